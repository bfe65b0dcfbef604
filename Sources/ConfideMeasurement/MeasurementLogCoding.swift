public import ConfideJSON

/// The measurement log as a server serves it, inside its attestation document:
///
/// ```json
/// {"register": "rtmr3" | "simulated-rtmr3" | "aael" | "none",
///  "events": [{"type": "plugin", "descriptor": "<the descriptor's JSON text>", "digest": "<96 hex digits>"}]}
/// ```
///
/// `register` says where the server anchors events (the client decides what it requires). Each event's
/// `descriptor` is a JSON *string* holding the descriptor's exact text, so the bytes hashed are unambiguous.
extension MeasurementLogSnapshot {
    /// The most events a served log may hold.
    public static let maximumEvents = 65_536
    /// The longest descriptor accepted, in bytes.
    public static let maximumDescriptorLength = 4_096

    /// The log as JSON, with `register` naming where events are anchored.
    public func json(register: String) -> JSONValue {
        .object(
            JSONObject([
                "register": .string(register),
                "events": .array(
                    self.events.map { event in
                        .object(
                            JSONObject([
                                "type": .string(event.kind.name),
                                "descriptor": .string(String(decoding: event.descriptor, as: UTF8.self)),
                                "digest": .string(Hex.encode(event.digest)),
                            ]))
                    }),
            ]))
    }

    /// Reads a served log; every malformed part is an error naming it.
    /// - Returns: The events and the `register` the server named.
    public static func parse(
        _ value: JSONValue
    ) throws(MeasurementError) -> (log: MeasurementLogSnapshot, register: String) {
        guard let object = value.objectValue else { throw MeasurementError("the measurement log is not a JSON object") }
        guard let register = object["register"]?.stringValue else {
            throw MeasurementError("the measurement log names no register")
        }
        guard let items = object["events"]?.arrayValue else {
            throw MeasurementError("the measurement log has no events array")
        }
        guard items.count <= Self.maximumEvents else {
            throw MeasurementError("the measurement log has \(items.count) events, more than \(Self.maximumEvents)")
        }
        var events: [MeasurementEvent] = []
        events.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            guard let entry = item.objectValue, let typeName = entry["type"]?.stringValue,
                let descriptor = entry["descriptor"]?.stringValue, let digestText = entry["digest"]?.stringValue
            else {
                throw MeasurementError("measurement event \(index) lacks a type, descriptor or digest string")
            }
            guard let kind = MeasurementEvent.Kind(name: typeName) else {
                throw MeasurementError("measurement event \(index) has the unknown type '\(typeName)'")
            }
            let descriptorBytes = Array(descriptor.utf8)
            guard descriptorBytes.count <= Self.maximumDescriptorLength else {
                throw MeasurementError(
                    "measurement event \(index)'s descriptor is longer than \(Self.maximumDescriptorLength) bytes")
            }
            guard let digest = Hex.decode(digestText), digest.count == 48 else {
                throw MeasurementError("measurement event \(index)'s digest is not 48 bytes of hexadecimal")
            }
            events.append(MeasurementEvent(kind: kind, descriptor: descriptorBytes, digest: digest))
        }
        return (MeasurementLogSnapshot(events: events), register)
    }
}
