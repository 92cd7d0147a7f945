import FacecHDF5
import FacecCore
import FacecGraph

/// The weights of one Keras layer as a legacy HDF5 file stores them: a group
/// named after the layer whose `weight_names` attribute lists its datasets in
/// Keras order (kernel, then bias).
struct KerasLayerWeights {
    var layerName: String
    var tensors: [WeightTensor]
    var shapes: [[Int]] { tensors.map(\.shape) }
}

/// Reads the legacy Keras HDF5 weight layout (`save_weights`, or the
/// `/model_weights` group of `model.save`): root `layer_names`, per-layer
/// `weight_names`; both fixed- and variable-length strings, with or without
/// tf-keras's `top_level_model_weights` group (it is not in `layer_names`).
enum KerasWeightReader {
    static func read(_ file: HDF5File, root: String) throws -> (allLayers: [String], weighted: [KerasLayerWeights]) {
        let layerNames = try layerNamesAttribute(file, root)
        var weighted: [KerasLayerWeights] = []
        for name in layerNames {
            let group = (root == "/" ? "" : root) + "/" + name
            guard try file.isGroup(group) else {
                throw FacecError(.weights, file.path, "layer '\(name)' is listed in layer_names but has no group")
            }
            let weightNames = try file.strings(group, attribute: "weight_names") ?? []
            if weightNames.isEmpty { continue }
            var tensors: [WeightTensor] = []
            for w in weightNames {
                let datasetPath = group + "/" + w
                let shape = try file.datasetShape(datasetPath)
                tensors.append(WeightTensor(name: "\(name)/\(w)", shape: shape) {
                    try file.readFloats(datasetPath, expecting: shape)
                })
            }
            weighted.append(KerasLayerWeights(layerName: name, tensors: tensors))
        }
        return (layerNames, weighted)
    }

    /// `layer_names`, or its chunks `layer_names0`, `layer_names1`… that Keras
    /// writes when the list exceeds HDF5's 64 KB attribute limit.
    private static func layerNamesAttribute(_ file: HDF5File, _ root: String) throws -> [String] {
        if let names = try file.strings(root, attribute: "layer_names") { return names }
        var names: [String] = []
        var chunk = 0
        while let part = try file.strings(root, attribute: "layer_names\(chunk)") {
            names += part
            chunk += 1
        }
        guard chunk > 0 else { throw FacecError(.weights, file.path, "no 'layer_names' attribute in '\(root)': not a Keras weights file") }
        return names
    }
}
