#pragma once
// The one place sim/ includes ns-3.
//
// Debian's ns-3.37 ships a singleton.h that is ill-formed C++20 (`Singleton<T>(const
// Singleton<T>&) = delete;`, rejected by g++ 12), reached only through ns3/core-module.h
// and ns3/des-metrics.h. So sim/ stays C++20 and includes just the specific ns-3 headers
// it needs, never a *-module.h aggregate. Add headers here, not in other files.
#include <ns3/application.h>
#include <ns3/boolean.h>
#include <ns3/config.h>
#include <ns3/data-rate.h>
#include <ns3/double.h>
#include <ns3/error-model.h>
#include <ns3/fd-net-device.h>  // swarm-emu's wire (emu/)
#include <ns3/global-value.h>
#include <ns3/inet-socket-address.h>
#include <ns3/internet-stack-helper.h>
#include <ns3/ip-l4-protocol.h>
#include <ns3/ipv4-address-helper.h>
#include <ns3/ipv4-end-point.h>
#include <ns3/ipv4-header.h>
#include <ns3/ipv4-interface-container.h>
#include <ns3/ipv4-interface.h>
#include <ns3/ipv4-l3-protocol.h>
#include <ns3/ipv4-routing-protocol.h>
#include <ns3/ipv4-static-routing-helper.h>
#include <ns3/ipv4-static-routing.h>
#include <ns3/ipv4.h>
#include <ns3/ipv6-header.h>
#include <ns3/ipv6-interface.h>
#include <ns3/mac48-address.h>
#include <ns3/net-device-container.h>
#include <ns3/net-device-queue-interface.h>
#include <ns3/node-container.h>
#include <ns3/node.h>
#include <ns3/nstime.h>
#include <ns3/object-factory.h>
#include <ns3/packet.h>
#include <ns3/point-to-point-channel.h>
#include <ns3/point-to-point-helper.h>
#include <ns3/point-to-point-net-device.h>
#include <ns3/pointer.h>
#include <ns3/ppp-header.h>
#include <ns3/queue-size.h>
#include <ns3/rng-seed-manager.h>
#include <ns3/rtt-estimator.h>
#include <ns3/scheduler.h>
#include <ns3/sequence-number.h>
#include <ns3/simulator.h>
#include <ns3/socket.h>
#include <ns3/string.h>
#include <ns3/tag.h>
#include <ns3/tcp-congestion-ops.h>
#include <ns3/tcp-cubic.h>
#include <ns3/tcp-l4-protocol.h>
#include <ns3/tcp-option-sack.h>
#include <ns3/tcp-recovery-ops.h>
#include <ns3/tcp-socket-base.h>
#include <ns3/tcp-socket-factory.h>
#include <ns3/tcp-socket-state.h>
#include <ns3/tcp-tx-buffer.h>
#include <ns3/traffic-control-helper.h>
#include <ns3/traffic-control-layer.h>
#include <ns3/udp-socket-factory.h>
#include <ns3/uinteger.h>
