import Foundation
import Testing
@testable import FacecDetect

/// NumpyArgsort against numpy's own `np.argsort` (numpy 2.4.6 on an AVX2 CPU
/// without AVX-512; scripts/fixtures/generate_numpy_argsort.py,
/// Fixtures/numpy-argsort): 166 float64 arrays of 2 to 600 keys, most of them
/// full of ties, through one register, the bitonic networks, the vector
/// partitions and libstdc++'s std::sort fallback. Every index must be numpy's,
/// ties included: a stable sort gets most of these arrays wrong.
@Suite struct NumpyArgsortTests {
    static func cases() throws -> [(keys: [Double], order: [Int])] {
        let text = try String(contentsOfFile: TestPaths.fixture("numpy-argsort/argsort.txt"), encoding: .utf8)
        return text.split(separator: "\n").map { line in
            let parts = line.split(separator: ";")
            return (parts[0].split(separator: " ").map { Double(Int($0)!) / 8 }, parts[1].split(separator: " ").map { Int($0)! })
        }
    }

    @Test func tiesComeOutInNumpysOrder() throws {
        let cases = try Self.cases()
        #expect(cases.count == 166)
        var same = 0, stableSame = 0
        for (keys, order) in cases {
            let got = NumpyArgsort.ascending(keys)
            #expect(got == order, "\(keys.count) keys: first difference at \(got.indices.first { got[$0] != order[$0] } ?? -1)")
            same += got == order ? 1 : 0
            let stable = keys.indices.sorted { keys[$0] < keys[$1] || (keys[$0] == keys[$1] && $0 < $1) }
            stableSame += stable == order ? 1 : 0
        }
        print("NumpyArgsort: \(same) of \(cases.count) arrays in numpy's order; a stable sort: \(stableSame)")
        #expect(stableSame < cases.count / 2, "the fixture must tell numpy's order from a stable one")
    }

    /// mtcnn's descending order is numpy's ascending one reversed; keys
    /// without ties sort the same whatever the rule; a sorted array is left
    /// as it is.
    @Test func descendingAndEdgeCases() {
        #expect(NumpyArgsort.descending([0.5, 0.9, 0.7]) == [1, 2, 0])
        #expect(NumpyArgsort.ascending([]) == [])
        #expect(NumpyArgsort.ascending([3]) == [0])
        let sorted: [Double] = [1, 1, 1, 2, 2]
        #expect(NumpyArgsort.ascending(sorted) == [0, 1, 2, 3, 4])
        var rng = SystemRandomNumberGenerator()
        let distinct = (0..<1000).map { Double($0) }.shuffled(using: &rng)
        #expect(NumpyArgsort.ascending(distinct).map { distinct[$0] } == distinct.sorted())
        let nan: [Double] = [2, .nan, 1, 1]
        #expect(NumpyArgsort.ascending(nan) == [2, 3, 0, 1])
    }
}
