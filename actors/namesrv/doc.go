// Package namesrv is Sluice's name server and the broker's side of talking
// to one: RocketMQ's namesrv module (RouteInfoManager and
// DefaultRequestProcessor) and the registration half of the broker's
// BrokerOuterAPI.
//
// It owns
//
//   - RouteInfoManager, the route tables (cluster → broker names, broker
//     name → addresses by broker id, topic → queue data per broker name,
//     broker address → last heartbeat) with registration, expiry and the
//     lookups clients and tools make;
//   - the wire shapes of those tables (TopicRouteData, ClusterInfo, the
//     REGISTER_BROKER body), encoded the way the Go client parses them;
//     the topic model inside the body (TopicConfig, DataVersion, the
//     permission bits, ValidateTopic) is the broker's own, from metadata;
//   - Handlers, the request handlers for the name server's codes, ready to
//     be put in an actors.Mux behind a processor;
//   - Registrar, the broker's periodic REGISTER_BROKER to every configured
//     name server and its UNREGISTER_BROKER on shutdown.
//
// Wiring, for the supervisor:
//
//	m := namesrv.NewRouteInfoManager(log)
//	stopScan := m.StartScanner(namesrv.DefaultScanInterval)
//	h := namesrv.Handlers(m, log)
//	proc := &actors.Processor{Name: "namesrv", Codes: namesrv.Codes(), Capacity: …,
//		NewHandler: func() actors.Handler { return actors.Mux(h) }}
//
//	reg := namesrv.NewRegistrar(namesrv.RegistrarConfig{…, Topics: topics.Snapshot}, log)
//	reg.Start()            // after the remoting port is open
//	reg.RegisterNow()      // after a topic is created or changed; the
//	                       // channel it returns closes once every name
//	                       // server has had the change
//	reg.Close()            // on shutdown, before the port closes
//
// The route tables live only in memory, as RocketMQ's do: brokers refill
// them within one registration period after a restart.
//
// The package must not touch the store, the broker's topic table (the
// broker hands the Registrar a snapshot function instead; of metadata it
// uses only the types and ValidateTopic) or any other processor; and, like everything under actors, it must not import
// supervisor, which wires it in.
//
// # Why brokerAddrs is written by hand
//
// The Go client (internal/route.go TopicRouteData.decode) does not decode
// brokerAddrs as JSON: it strips the braces, splits on ',' and on the
// first ':', and deletes '"'. Any space in that object ends up inside an
// address ("lookup  127.0.0.1: no such host"), and a missing brokerAddrs
// makes it slice out of range. So every BrokerData carries a brokerAddrs
// object, compact, keys quoted and in numeric order, and the route body
// contains no whitespace at all.
package namesrv
