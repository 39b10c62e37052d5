// Built against an installed swarmlab through find_package; hashes a string and checks it.
#include <cstdio>
#include <swarmlab/sha256.hpp>

int main() {
  const auto hex = swarmlab::to_hex(swarmlab::sha256(std::string_view("abc")));
  const bool ok = hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  std::puts(ok ? "consumer: ok" : "consumer: wrong digest");
  return ok ? 0 : 1;
}
