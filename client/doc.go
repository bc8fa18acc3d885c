// Package client is a Go client for chat.v1 (docs/PROTOCOL.md): it dials a
// chatd server, joins rooms, sends chat, private messages and typing
// indicators, and reconnects on its own after a network loss or a server
// restart without losing or repeating messages.
//
// # Events: one channel
//
// Everything the server sends, and every change of the connection's state,
// arrives on one channel, Session.Events, in the order it happened. A channel
// rather than a callback because a channel lets the caller decide when to
// read (select it next to its own channels and a context, or turn each
// receive into a bubbletea command) and because a callback runs on the
// library's reader goroutine, where a slow or re-entrant callback (one that
// calls Chat and waits for the answer) would stall or deadlock the
// connection. The channel is fed from an internal queue, so the reader never
// waits for the caller: request methods may be called from the goroutine that
// reads Events. The queue is bounded by Options.MaxQueuedEvents; a caller that
// stops reading for that long is treated like the server treats a slow
// consumer: the session ends with ErrSlowConsumer instead of dropping events
// silently. The channel is closed after the final StateClosed change.
//
// # Requests
//
// Chat, PM, Join, Leave and Who send one message with a fresh ref and wait for
// the server's answer carrying that ref: the sender's copy of the event, or an
// error envelope, returned as a *ServerError (errors.As also finds the
// underlying *api.Error and its Code). If the connection drops while a request
// waits, it fails with ErrConnectionLost: the server may or may not have
// accepted it. While the session is reconnecting, requests fail at once with
// ErrNotConnected rather than queueing up behind an outage of unknown length.
//
// By default requests are paced with a token bucket set a little under the
// rate limit the server announces in its welcome, so that a burst of calls is
// slowed down rather than answered with rate_limited.
//
// # Reconnecting, and gaps
//
// After a network loss, a close 1001 (shutdown, idle_timeout) or 1011, the
// session dials again with exponential backoff and jitter (each wait is drawn between half and
// all of the current step, so a crowd of clients does not return at once), joins every
// room it was in with since = the last message id it delivered in that room, and drops
// replayed events it already delivered (ids are ULIDs, strictly increasing per
// room, compared as strings). A refused name (name_taken) is retried only for
// Options.NameTakenGrace, long enough for the server to notice the old,
// silently dead connection (its idle timeout); unauthorized, a close 1008
// (policy) and the protocol-error closes (1002, 1003, 1007, 1009) end the
// session: repeating the same thing would be refused the same way.
//
// Whether the server filled the whole gap cannot be read from the ids alone:
// ULIDs are not contiguous, so "the first replayed id" says nothing about what
// came before it. The rule used here rests on the server's documented
// guarantee (PROTOCOL.md §3a: it keeps at least the last HistoryKeep = 500
// messages of a room for HistoryTTL = 24 h, and a since older than that
// replays everything it still has):
//
//   - if the replay contains an id at or before since, the kept history reaches
//     back past our position: nothing is missing (the duplicates are dropped);
//   - otherwise, if fewer than HistoryKeep messages were replayed and since is
//     younger than HistoryTTL (by the time in the ULID against the server's
//     clock), then fewer than HistoryKeep messages can have followed since and
//     all of them are still kept: nothing is missing;
//   - otherwise messages may be missing, and a *Gap event is delivered just
//     before the replayed messages of that room.
//
// Private messages are not kept by the server, so a pm sent while this client
// was disconnected is refused to its sender (unknown_user) rather than lost
// silently; the client cannot report it.
//
// # Typing
//
// Session.Typing is called on every keystroke; it sends active:true at most
// every TypingRefresh (3 s) while keystrokes continue, and active:false after
// TypingIdle (5 s) without one or when StopTyping is called. Sending a chat or
// pm to the same target ends the indicator on the server (PROTOCOL.md §3), so
// Chat and PM only reset the local state and do not send a redundant
// active:false. Time comes from Options.Clock so tests need not sleep.
package client
