package api

// AppendClient appends m as a client message in compact JSON: type first,
// then the fields that are set, ref last. DecodeClient(AppendClient(nil, m))
// gives back m for every message DecodeClient returns; the Go client uses it
// to send. A nil or foreign ClientMessage appends nothing.
func AppendClient(dst []byte, m ClientMessage) []byte {
	opt := func(dst []byte, key, v string) []byte {
		if v == "" {
			return dst
		}
		dst = append(dst, ',', '"')
		dst = append(dst, key...)
		dst = append(dst, '"', ':')
		return appendString(dst, v)
	}
	switch m := m.(type) {
	case *Join:
		dst = append(dst, `{"type":"join"`...)
		dst = opt(dst, "name", m.Name)
		dst = opt(dst, "room", m.Room)
		dst = opt(dst, "since", m.Since)
		dst = opt(dst, "token", m.Token)
		dst = opt(dst, "ref", m.Ref)
	case *Chat:
		dst = append(dst, `{"type":"chat"`...)
		dst = opt(dst, "room", m.Room)
		dst = append(dst, `,"text":`...)
		dst = appendString(dst, m.Text)
		dst = opt(dst, "ref", m.Ref)
	case *PM:
		dst = append(dst, `{"type":"pm","to":`...)
		dst = appendString(dst, m.To)
		dst = append(dst, `,"text":`...)
		dst = appendString(dst, m.Text)
		dst = opt(dst, "ref", m.Ref)
	case *Typing:
		dst = append(dst, `{"type":"typing"`...)
		if m.Room != "" {
			dst = opt(dst, "room", m.Room)
		} else {
			dst = opt(dst, "to", m.To)
		}
		if m.Active {
			dst = append(dst, `,"active":true`...)
		} else {
			dst = append(dst, `,"active":false`...)
		}
		dst = opt(dst, "ref", m.Ref)
	case *Who:
		dst = append(dst, `{"type":"who"`...)
		dst = opt(dst, "room", m.Room)
		dst = opt(dst, "ref", m.Ref)
	case *Leave:
		dst = append(dst, `{"type":"leave"`...)
		dst = opt(dst, "room", m.Room)
		dst = opt(dst, "ref", m.Ref)
	default:
		return dst
	}
	return append(dst, '}')
}
