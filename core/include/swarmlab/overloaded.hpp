#pragma once
// std::visit over several lambdas, one per alternative.

namespace swarmlab {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
// Spelled out for compilers without C++20's deduction for aggregates (clang before 17).
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

}  // namespace swarmlab
