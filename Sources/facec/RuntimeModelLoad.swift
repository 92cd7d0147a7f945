import FacecRuntime

/// `facec check` also builds the runtime plan, which checks every kernel's
/// shape contract.
enum FacecRuntimeModel {
    static func load(_ path: String) throws -> Int {
        try Model(path: path).header.nodes.count
    }
}
