// Package slave is what a SLAVE broker does beside following the master's
// commit log: RocketMQ's SlaveSynchronize, which copies the master's topic
// table, consumer offsets, delay offsets and subscription groups every few
// seconds over the master's remoting port.
//
// It owns its connection to the master and the master address it was last
// told (from the name server's REGISTER_BROKER answer). It may change the
// metadata managers only through their *FromMaster methods and write only
// the delay-offset file it is given; it never touches the commit log (the
// HA stream, commitlog/ha, does) and never imports protoactor, supervisor
// or cmd.
package slave
