package wire

import "sync"

// bufSize is the size of the pooled buffers a connection borrows while a
// frame is moving. 16 KiB holds many small frames per read syscall and is
// large enough that bigger payloads bypass it (they are read straight into
// the caller's memory and written with writev).
const bufSize = 16 << 10

// bufPool holds *[]byte of bufSize; pointers so Get and Put do not allocate.
var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

func getBuf() *[]byte  { return bufPool.Get().(*[]byte) }
func putBuf(b *[]byte) { bufPool.Put(b) }
