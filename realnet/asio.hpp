#pragma once
// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>, which
// breaks under C++20 with g++ 12: include it first. Every realnet file includes Asio here.
#include <utility>
// clang-format off
#include <boost/asio.hpp>
// clang-format on
