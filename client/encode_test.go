package client

import "testing"

func TestEncode(t *testing.T) {
	tests := []struct {
		name string
		msg  any
		want string
	}{
		{"first join", joinMsg{Type: "join", Name: "alice", Ref: "1"}, `{"type":"join","name":"alice","ref":"1"}`},
		{"rejoin with since", joinMsg{Type: "join", Name: "alice", Room: "dev", Since: "01JD0000000000000000000000", Token: "t", Ref: "2"},
			`{"type":"join","name":"alice","room":"dev","since":"01JD0000000000000000000000","token":"t","ref":"2"}`},
		{"chat", chatMsg{Type: "chat", Room: "lobby", Text: "a <b> & c", Ref: "3"}, `{"type":"chat","room":"lobby","text":"a <b> & c","ref":"3"}`},
		{"pm", pmMsg{Type: "pm", To: "bob", Text: "hi", Ref: "2"}, `{"type":"pm","to":"bob","text":"hi","ref":"2"}`},
		{"typing to", typingMsg{Type: "typing", To: "bob", Active: true}, `{"type":"typing","to":"bob","active":true}`},
		{"typing stop keeps active:false", typingMsg{Type: "typing", Room: "lobby"}, `{"type":"typing","room":"lobby","active":false}`},
		{"who", whoMsg{Type: "who", Room: "dev", Ref: "4"}, `{"type":"who","room":"dev","ref":"4"}`},
		{"leave everything", leaveMsg{Type: "leave"}, `{"type":"leave"}`},
		{"leave a room", leaveMsg{Type: "leave", Room: "dev", Ref: "5"}, `{"type":"leave","room":"dev","ref":"5"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := encode(tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Errorf("got  %s\nwant %s", b, tc.want)
			}
		})
	}
}
