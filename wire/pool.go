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

// smallBuf is what a connection borrows for small work: the read buffer it
// waits on, a control frame's payload, a small frame being written, a pong
// owed. An idle connection with no read in progress holds none.
type smallBuf [smallReadLen]byte

var smallPool = sync.Pool{New: func() any { return new(smallBuf) }}

func getSmall() *smallBuf  { return smallPool.Get().(*smallBuf) }
func putSmall(b *smallBuf) { smallPool.Put(b) }
