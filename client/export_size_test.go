package client

import "unsafe"

// ChanStateSize returns the size of a channel's router-side state, allocated once per channel.
func ChanStateSize() uintptr { return unsafe.Sizeof(chanState{}) }

// ChannelSize returns the size of a Channel.
func ChannelSize() uintptr { return unsafe.Sizeof(Channel{}) }
