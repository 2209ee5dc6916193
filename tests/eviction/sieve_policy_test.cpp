#include "eviction/sieve_policy.hpp"

#include <catch2/catch.hpp>

#include "tests/eviction/driver.hpp"

using eviction::Key;
using eviction::testing::Driver;

namespace {
constexpr Key A = 'A', B = 'B', C = 'C', D = 'D', E = 'E', F = 'F', G = 'G', H = 'H', I = 'I',
              J = 'J', K = 'K', L = 'L', M = 'M', N = 'N';
}

// Worked by hand after the illustration in the SIEVE paper (Zhang et al., NSDI'24): a cache of
// eight objects A..H, A oldest (at the tail), with A, B and G visited.
TEST_CASE("sieve on a hand-worked example: the hand sifts, survivors keep their place, it wraps",
          "[eviction][sieve]") {
    eviction::SievePolicy sieve(8);
    Driver d{sieve, {}};
    for (Key k : {A, B, C, D, E, F, G, H})
        d.get(k);
    for (Key k : {A, B, G})
        d.get(k);

    d.get(I);  // hand from the tail: clears A, clears B, evicts C; hand now at D
    CHECK(d.victims == std::vector<Key>{C});
    d.get(D);
    d.get(A);  // A visited again although the hand passed it
    d.get(J);  // D visited: cleared; E evicted
    d.get(K);  // F evicted
    d.get(L);  // G cleared, H evicted
    d.get(M);  // I evicted
    CHECK(d.victims == std::vector<Key>{C, E, F, H, I});

    // Now (tail to head): A* B D G J K L M, hand at J. Visit J..M, then insert N: the hand
    // clears J, K, L, M, passes the new object, wraps to the tail, clears A and evicts B.
    for (Key k : {J, K, L, M})
        d.get(k);
    d.get(N);
    CHECK(d.victims == std::vector<Key>{C, E, F, H, I, B});
    for (Key k : {A, D, G, J, K, L, M, N})
        CHECK(sieve.contains(k));
}
