#pragma once
// std::visit over several lambdas, one per alternative.

namespace swarmlab {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};

}  // namespace swarmlab
