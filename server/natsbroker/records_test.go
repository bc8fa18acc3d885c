package natsbroker

import "testing"

func TestSuccessor(t *testing.T) {
	cases := []struct{ in, want string }{
		{"01ARZ3NDEKTSV4RRFFQ69G5FAV", "01ARZ3NDEKTSV4RRFFQ69G5FAW"},
		{"01ARZ3NDEKTSV4RRFFQ69G5FAZ", "01ARZ3NDEKTSV4RRFFQ69G5FB0"}, // carry within the random part
		{"01ARZ3NDEKZZZZZZZZZZZZZZZZ", "01ARZ3NDEM0000000000000000"}, // carry into the time
		{"not a ulid", "not a ulid"},
	}
	for _, c := range cases {
		if got := successor(c.in); got != c.want {
			t.Errorf("successor(%s) = %s, want %s", c.in, got, c.want)
		}
		if c.in != c.want && successor(c.in) <= c.in {
			t.Errorf("successor(%s) does not sort above it", c.in)
		}
	}
}

func TestNameTokens(t *testing.T) {
	cases := []struct{ key, token string }{
		{"alice", "alice"},
		{"a.b.c", "a=b=c"},
		{"x_y-z", "x_y-z"},
	}
	for _, c := range cases {
		if got := nameToken(c.key); got != c.token {
			t.Errorf("nameToken(%s) = %s, want %s", c.key, got, c.token)
		}
		if got := tokenName(c.token); got != c.key {
			t.Errorf("tokenName(%s) = %s, want %s", c.token, got, c.key)
		}
	}
	if convKey("bob", "a.l") != convKey("a.l", "bob") || convKey("bob", "a.l") != "a=l.bob" {
		t.Errorf("convKey depends on the direction or keeps dots: %s", convKey("bob", "a.l"))
	}
}
