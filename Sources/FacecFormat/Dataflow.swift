import FacecCore
/// Every value a node reads must hold what it should when the node runs:
/// written by an earlier node (or the model input), and not overwritten
/// since by another value sharing its arena bytes. The compiler's plan always
/// satisfies this; a file whose nodes are out of order, or whose arena
/// offsets make one value clobber another still needed, would run and give
/// a wrong embedding. O(nodes × values), microseconds for a face network.
enum Dataflow {
    static func check(nodes: [NodeEntry], values: [ValueEntry], input: Int, outputs: [Int],
                      _ fail: (String) -> FacecError) throws {
        func overlap(_ a: ValueEntry, _ b: ValueEntry) -> Bool {
            a.arenaOffset < b.arenaOffset + b.arenaBytes && b.arenaOffset < a.arenaOffset + a.arenaBytes
        }
        /// A view (Flatten) has its source's bytes: same place, same size.
        func sameStorage(_ a: ValueEntry, _ b: ValueEntry) -> Bool {
            a.arenaOffset == b.arenaOffset && a.arenaBytes == b.arenaBytes && a.elementCount == b.elementCount
        }
        var holds = [Bool](repeating: false, count: values.count)
        func define(_ v: Int) {
            for u in values.indices where u != v && overlap(values[u], values[v]) {
                holds[u] = values[u].isView && sameStorage(values[u], values[v])
            }
            holds[v] = true
        }
        define(input)
        for (i, n) in nodes.enumerated() {
            for v in n.inputs where !holds[v] {
                throw fail("node \(i) '\(n.name)' reads value \(v) '\(values[v].name)' before it is written, or after its memory was reused")
            }
            define(n.output)
        }
        for v in outputs where !holds[v] {
            throw fail("output value \(v) '\(values[v].name)' is not what the last node to write it left (never written, or overwritten)")
        }
    }
}
