package tui

// MessageQuery mirrors client.MessageQuery until client/messages.go lands;
// it then becomes an alias.
type MessageQuery struct {
	Limit, Offset int
	After, Before int64
}
