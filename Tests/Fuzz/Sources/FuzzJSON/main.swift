import ConfideJSON
import FuzzDriver

runFuzzer { bytes in
    if let value = try? JSONParser.parse(bytes) {
        precondition((try? JSONParser.parse(value.serialized)) == value, "written JSON does not read back")
    }
}
