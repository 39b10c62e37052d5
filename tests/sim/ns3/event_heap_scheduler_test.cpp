// The simulator's event queue (sim/event_heap_scheduler.hpp) must hand events out in exactly
// the order ns-3's MapScheduler does, (time, uid), or a run would change with the queue.
#include "sim/event_heap_scheduler.hpp"

#include <gtest/gtest.h>
#include <ns3/map-scheduler.h>

#include <random>
#include <vector>

#include "sim/ns3_headers.hpp"

namespace swarmlab::sim {
namespace {

using Event = ns3::Scheduler::Event;

Event event(std::uint64_t ts, std::uint32_t uid) {
  Event e;
  e.impl = nullptr;  // neither queue looks at it
  e.key.m_ts = ts;
  e.key.m_uid = uid;
  e.key.m_context = 0;
  return e;
}

// Drives both queues with the same inserts, removals of the next event and removals of
// arbitrary events, as a simulation does (times never before the last event taken), and
// checks every event taken is the same one.
TEST(EventHeapScheduler, TakesEventsInTheOrderOfNs3sMapScheduler) {
  auto heap = ns3::CreateObject<EventHeapScheduler>();
  auto map = ns3::CreateObject<ns3::MapScheduler>();
  std::mt19937_64 rng(7);
  std::vector<Event> pending;  // for Remove
  std::uint64_t now = 0;
  std::uint32_t uid = 0;
  std::uint64_t taken = 0;
  for (int step = 0; step < 200'000; ++step) {
    const auto dice = rng() % 100;
    if (dice < 55 || map->IsEmpty()) {
      // Many at the same time (ties broken by uid), many soon, some far ahead.
      const auto kind = rng() % 4;
      const std::uint64_t ts = kind == 0   ? now
                               : kind == 1 ? now + rng() % 10
                               : kind == 2 ? now + rng() % 10'000
                                           : now + rng() % 10'000'000;
      const Event e = event(ts, ++uid);
      heap->Insert(e);
      map->Insert(e);
      pending.push_back(e);
    } else if (dice < 95) {
      ASSERT_FALSE(heap->IsEmpty());
      const Event want = map->PeekNext();
      EXPECT_EQ(heap->PeekNext().key.m_uid, want.key.m_uid);
      const Event got = heap->RemoveNext();
      map->RemoveNext();
      ASSERT_EQ(got.key.m_uid, want.key.m_uid) << "after " << taken << " events";
      ASSERT_EQ(got.key.m_ts, want.key.m_ts);
      now = got.key.m_ts;
      ++taken;
      std::erase_if(pending, [&](const Event& e) { return e.key.m_uid == got.key.m_uid; });
    } else if (!pending.empty()) {
      const auto i = rng() % pending.size();
      heap->Remove(pending[i]);
      map->Remove(pending[i]);
      pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(i));
    }
  }
  while (!map->IsEmpty()) {
    ASSERT_FALSE(heap->IsEmpty());
    ASSERT_EQ(heap->RemoveNext().key.m_uid, map->RemoveNext().key.m_uid);
  }
  EXPECT_TRUE(heap->IsEmpty());
  EXPECT_GT(taken, 50'000U);
}

// Removing the only event, the next one, the last one in the vector, and one not queued.
TEST(EventHeapScheduler, RemovesAnyEventAndIgnoresOneNotQueued) {
  auto heap = ns3::CreateObject<EventHeapScheduler>();
  heap->Insert(event(5, 1));
  heap->Remove(event(5, 1));
  EXPECT_TRUE(heap->IsEmpty());
  for (std::uint32_t uid = 1; uid <= 9; ++uid) heap->Insert(event(10 * uid, uid));
  heap->Remove(event(10, 1));   // the next one
  heap->Remove(event(90, 9));   // the last in the vector
  heap->Remove(event(50, 42));  // never queued
  std::vector<std::uint32_t> order;
  while (!heap->IsEmpty()) order.push_back(heap->RemoveNext().key.m_uid);
  EXPECT_EQ(order, (std::vector<std::uint32_t>{2, 3, 4, 5, 6, 7, 8}));
}

// Installed as the simulator's queue, it runs events at their times, same-time events in
// the order they were scheduled, and skips cancelled ones.
TEST(EventHeapScheduler, RunsASimulationInTimeThenScheduleOrder) {
  use_event_heap_scheduler();
  std::vector<int> ran;
  ns3::Simulator::Schedule(ns3::MilliSeconds(5), [&] { ran.push_back(3); });
  ns3::Simulator::Schedule(ns3::MilliSeconds(1), [&] { ran.push_back(1); });
  auto cancelled = ns3::Simulator::Schedule(ns3::MilliSeconds(2), [&] { ran.push_back(-1); });
  ns3::Simulator::Schedule(ns3::MilliSeconds(1), [&] {
    ran.push_back(2);
    ns3::Simulator::ScheduleNow([&] { ran.push_back(21); });
  });
  auto removed = ns3::Simulator::Schedule(ns3::MilliSeconds(3), [&] { ran.push_back(-2); });
  ns3::Simulator::Cancel(cancelled);
  ns3::Simulator::Remove(removed);
  ns3::Simulator::Run();
  ns3::Simulator::Destroy();
  EXPECT_EQ(ran, (std::vector<int>{1, 2, 21, 3}));
}

}  // namespace
}  // namespace swarmlab::sim
