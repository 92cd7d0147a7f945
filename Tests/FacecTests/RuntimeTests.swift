import Foundation
import Testing
import FacecRuntime
import FacecPipeline

@Suite struct RuntimeTests {
    /// One Model shared by several threads, each with its own instance, gives
    /// exactly the single-threaded results (no shared mutable state).
    @Test func instancesRunConcurrently() throws {
        let dir = TempDir()
        let model = try convertAndLoad(TestPaths.demoWeights, to: dir)
        let inputs = try NPYFile.read(TestPaths.fixture("deepid_inputs.npy"))
        let reference = try embedAll(model, inputs)
        let mismatches = ManagedCounter()
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            for _ in 0..<25 where (try? embedAll(model, inputs)) != reference { mismatches.increment() }
        }
        #expect(mismatches.value == 0)
    }

    /// The arena is reused across inputs: running A, B, A gives A's result again.
    @Test func arenaReuseLeavesNoState() throws {
        let dir = TempDir()
        let model = try convertAndLoad(TestPaths.fixture("small_func_keras3.h5"), to: dir)
        let inputs = try NPYFile.read(TestPaths.fixture("small_func_keras3_inputs.npy"))
        let per = inputs.values.count / inputs.shape[0]
        let a = Array(inputs.values[0..<per]), b = Array(inputs.values[per..<(2 * per)])
        let instance = model.makeInstance()
        let first = try instance.embed(a)
        _ = try instance.embed(b)
        #expect(try instance.embed(a) == first)
    }
}

final class ManagedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}
