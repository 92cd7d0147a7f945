import FacecCore

/// float32 arrays saved by `joblib.dump` (how PyPI's mtcnn ships its P-, R-
/// and O-Net weights: `mtcnn/assets/weights/*.lz4`, a list in Keras
/// `get_weights` order), read without running any Python.
///
/// joblib's file is a pickle, LZ4-compressed or not, in which each numpy
/// array is a `joblib.numpy_pickle.NumpyArrayWrapper` whose raw bytes follow
/// its BUILD opcode in the stream itself (after one padding-length byte and
/// that many padding bytes when the wrapper records an alignment; joblib's
/// `NumpyArrayWrapper.read_array`). `PickleMachine` executes only the opcodes
/// such a file uses and knows only three Python names (that wrapper,
/// `numpy.ndarray`, `numpy.dtype`): any other global, opcode or object shape is
/// refused with what was found, so nothing a hostile file names is called.
package struct JoblibArrays {
    package struct Array: Equatable {
        package var shape: [Int]
        /// C order (row-major), little-endian float32 as stored.
        package var values: [Float]
    }

    /// The top-level list's arrays, in order.
    package var arrays: [Array]

    /// Inflated pickles larger than this are refused (mtcnn's biggest, the
    /// O-Net, is 1.6 MB).
    package static let maxPickleBytes = 256 << 20

    package init(bytes: [UInt8], maxPickleBytes: Int = maxPickleBytes) throws(ReadFault) {
        let pickle = LZ4Frame.isFrame(bytes) ? try LZ4Frame.decompress(bytes, maxBytes: maxPickleBytes) : bytes
        var machine = PickleMachine(pickle)
        let result = try machine.run()
        guard case .list(let list) = result else {
            throw ReadFault("the pickle holds \(result.noun), not a list of arrays")
        }
        var arrays: [Array] = []
        for (i, item) in list.items.enumerated() {
            guard case .array(let a) = item else { throw ReadFault("item \(i) of the list is \(item.noun), not an array") }
            arrays.append(a)
        }
        self.arrays = arrays
    }
}
