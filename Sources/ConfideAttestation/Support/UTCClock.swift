import Foundation

/// Conversions between UTC calendar times and `Date`, without locales, time zones or traps.
enum UTCClock {
    /// Parses an RFC 3339 / ISO 8601 UTC time as Intel's PCS writes it: `YYYY-MM-DDTHH:MM:SSZ`, optionally with
    /// fractional seconds before the `Z`.
    static func parse(_ text: String) -> Date? {
        let digits = Array(text.utf8)
        guard digits.count >= 20, digits.count <= 40, digits.last == UInt8(ascii: "Z") else {
            return nil
        }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                let digit = digits[index]
                guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "9") else {
                    return nil
                }
                value = value * 10 + Int(digit - UInt8(ascii: "0"))
            }
            return value
        }
        let separators: [(Int, Character)] = [(4, "-"), (7, "-"), (10, "T"), (13, ":"), (16, ":")]
        for (index, separator) in separators where digits[index] != separator.asciiValue {
            return nil
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hours = number(11..<13), let minutes = number(14..<16), let seconds = number(17..<19)
        else {
            return nil
        }
        var fraction = 0.0
        if digits.count > 20 {
            guard digits[19] == UInt8(ascii: "."), digits.count > 21, let value = number(20..<(digits.count - 1)) else {
                return nil
            }
            fraction = Double(value) / pow(10, Double(digits.count - 21))
        }
        guard let date = Self.date(year: year, month: month, day: day, hours: hours, minutes: minutes, seconds: seconds)
        else {
            return nil
        }
        return date.addingTimeInterval(fraction)
    }

    /// The instant of a UTC calendar time, or `nil` when a field is out of range.
    static func date(year: Int, month: Int, day: Int, hours: Int, minutes: Int, seconds: Int) -> Date? {
        guard (0...9999).contains(year), (1...12).contains(month), (1...31).contains(day), (0...23).contains(hours),
            (0...59).contains(minutes), (0...60).contains(seconds)
        else {
            return nil
        }
        // Days from 1970-01-01 to the civil date (Howard Hinnant's algorithm); every operand is small.
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        let total = days * 86_400 + hours * 3_600 + minutes * 60 + seconds
        return Date(timeIntervalSince1970: TimeInterval(total))
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` for messages.
    static func format(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}
