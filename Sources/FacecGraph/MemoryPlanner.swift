/// Static activation memory plan: every value gets an offset in one arena;
/// two values share bytes only if their lifetimes do not overlap.
/// Greedy by size (largest first), each placed in the lowest gap that fits
/// among the already placed values alive at the same time.
enum MemoryPlanner {
    struct Request {
        var bytes: Int
        var firstStep: Int   // node index that writes it (-1: written before the first node)
        var lastStep: Int    // last node index that reads it (Int.max: a graph output)
    }

    static let alignment = 64

    /// Returns (offset per request, arena size).
    static func plan(_ requests: [Request]) -> (offsets: [Int], arenaBytes: Int) {
        let order = requests.indices.sorted {
            (requests[$0].bytes, -requests[$0].firstStep) > (requests[$1].bytes, -requests[$1].firstStep)
        }
        var offsets = [Int](repeating: 0, count: requests.count)
        var placed: [Int] = []
        var arena = 0
        for r in order {
            let me = requests[r]
            let size = rounded(me.bytes)
            let busy = placed
                .filter { requests[$0].firstStep <= me.lastStep && me.firstStep <= requests[$0].lastStep }
                .map { (offsets[$0], offsets[$0] + rounded(requests[$0].bytes)) }
                .sorted { $0.0 < $1.0 }
            var candidate = 0
            for (start, end) in busy {
                if candidate + size <= start { break }
                candidate = max(candidate, end)
            }
            offsets[r] = candidate
            arena = max(arena, candidate + size)
            placed.append(r)
        }
        return (offsets, arena)
    }

    static func rounded(_ n: Int) -> Int { (n + alignment - 1) / alignment * alignment }
}
