import FacecCore
/// Reads every group, attribute and dataset of an HDF5 file once, as the
/// fuzz target does (every structure the reader knows is reached, not only
/// those a Keras or MAT file names). Returns the number of objects.
public enum HDF5Walk {
    public static func readEverything(path: String, maxBytes: Int = 64 << 20) throws -> Int {
        let file = try H5File(path: path)
        var seen = Set<UInt64>()
        var pending = [file.rootAddress]
        var budget = maxBytes
        do {
            while let address = pending.popLast() {
                guard seen.insert(address).inserted else { continue }
                let object = try H5Object(file: file, address: address)
                for attribute in try object.attributes() {
                    switch attribute.type {
                    case .string, .variableString, .variableSequence: _ = try attribute.strings(in: file)
                    case .integer where attribute.space.count == 1: _ = try attribute.integer(in: file)
                    default: break
                    }
                }
                if object.isGroup {
                    for link in try object.links() { if case .hard(let a) = link.target { pending.append(a) } }
                } else if object.isDataset {
                    let d = try H5Dataset(object)
                    guard d.byteCount <= budget else { continue }
                    budget -= d.byteCount
                    if d.type.isObjectReference {
                        pending += try d.references().filter { (try? file.position(of: $0)) != nil }
                    } else if d.type.isFloat || d.type.isInteger {
                        _ = try d.doubles()
                    } else {
                        _ = try d.bytes()
                    }
                }
            }
        } catch let fault as ReadFault {
            throw FacecError(.weights, path, fault.reason)
        }
        return seen.count
    }
}
