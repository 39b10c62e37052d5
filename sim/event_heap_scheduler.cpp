#include "sim/event_heap_scheduler.hpp"

#include <algorithm>
#include <cstdlib>
#include <string_view>

namespace swarmlab::sim {
namespace {
constexpr std::size_t kArity = 4;

bool earlier(const ns3::Scheduler::EventKey& a, const ns3::Scheduler::EventKey& b) {
  return a.m_ts < b.m_ts || (a.m_ts == b.m_ts && a.m_uid < b.m_uid);
}
}  // namespace

NS_OBJECT_ENSURE_REGISTERED(EventHeapScheduler);

ns3::TypeId EventHeapScheduler::GetTypeId() {
  static ns3::TypeId tid = ns3::TypeId("swarmlab::sim::EventHeapScheduler")
                               .SetParent<ns3::Scheduler>()
                               .AddConstructor<EventHeapScheduler>();
  return tid;
}

void EventHeapScheduler::Insert(const Event& ev) {
  heap_.push_back(ev);
  sift_up(heap_.size() - 1);
}

ns3::Scheduler::Event EventHeapScheduler::RemoveNext() {
  Event next = heap_.front();
  heap_.front() = heap_.back();
  heap_.pop_back();
  if (!heap_.empty()) sift_down(0);
  return next;
}

void EventHeapScheduler::Remove(const Event& ev) {
  const auto it = std::find_if(heap_.begin(), heap_.end(),
                               [&](const Event& e) { return e.key.m_uid == ev.key.m_uid; });
  if (it == heap_.end()) return;
  const auto i = static_cast<std::size_t>(it - heap_.begin());
  heap_[i] = heap_.back();
  heap_.pop_back();
  if (i < heap_.size()) {
    sift_up(i);
    sift_down(i);
  }
}

// A hole moves instead of swapping: each level copies one event.
void EventHeapScheduler::sift_up(std::size_t i) {
  const Event moving = heap_[i];
  while (i > 0) {
    const std::size_t parent = (i - 1) / kArity;
    if (!earlier(moving.key, heap_[parent].key)) break;
    heap_[i] = heap_[parent];
    i = parent;
  }
  heap_[i] = moving;
}

void EventHeapScheduler::sift_down(std::size_t i) {
  const Event moving = heap_[i];
  const std::size_t n = heap_.size();
  for (;;) {
    const std::size_t first = i * kArity + 1;
    if (first >= n) break;
    const std::size_t last = std::min(first + kArity, n);
    std::size_t best = first;
    for (std::size_t c = first + 1; c < last; ++c) {
      if (earlier(heap_[c].key, heap_[best].key)) best = c;
    }
    if (!earlier(heap_[best].key, moving.key)) break;
    heap_[i] = heap_[best];
    i = best;
  }
  heap_[i] = moving;
}

void use_event_heap_scheduler() {
  // ns-3's own queue on request, to show a run is the same either way (tests/sim).
  const char* which = std::getenv("SWARMLAB_NS3_SCHEDULER");
  if (which != nullptr && std::string_view(which) == "map") return;
  ns3::ObjectFactory factory;
  factory.SetTypeId(EventHeapScheduler::GetTypeId());
  ns3::Simulator::SetScheduler(factory);
}

}  // namespace swarmlab::sim
