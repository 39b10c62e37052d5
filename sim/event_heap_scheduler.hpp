#pragma once
// ns-3's event queue as a 4-ary min-heap in one vector, for simulations with hundreds of
// thousands of pending events. ns-3's default, MapScheduler, is a std::map: a node allocated
// per event, and each insertion walks ~18 levels of scattered nodes in a 1,000-peer run,
// which holds 10^5 or more pending events (every ACK re-arms its retransmission timer, and a
// cancelled timer stays queued until it is due). It was a tenth of the `large` scenario's
// time. Here an insertion climbs only as far as its time is early, and a removal walks
// log4(n) levels of contiguous children. ns-3's own HeapScheduler is a binary heap whose
// every step is an out-of-line, logging call; it ran slower than the map.
//
// Events leave in (time, uid) order, the order MapScheduler gives, so a run is the same
// event for event whichever of the two queues it (tests/sim checks that).
#include <vector>

#include "sim/ns3_headers.hpp"

namespace swarmlab::sim {

class EventHeapScheduler : public ns3::Scheduler {
 public:
  static ns3::TypeId GetTypeId();
  EventHeapScheduler() = default;
  ~EventHeapScheduler() override = default;

  void Insert(const Event& ev) override;
  bool IsEmpty() const override { return heap_.empty(); }
  Event PeekNext() const override { return heap_.front(); }
  Event RemoveNext() override;
  /// Only Simulator::Remove calls it (ns-3 cancels its timers instead): a linear search.
  void Remove(const Event& ev) override;

 private:
  void sift_up(std::size_t i);
  void sift_down(std::size_t i);

  std::vector<Event> heap_;
};

/// Makes the current simulation (or, before any Simulator call, the next one) queue its
/// events in an EventHeapScheduler, unless SWARMLAB_NS3_SCHEDULER=map asks for ns-3's
/// default. Simulator::Destroy forgets it: call it for every run.
void use_event_heap_scheduler();

}  // namespace swarmlab::sim
