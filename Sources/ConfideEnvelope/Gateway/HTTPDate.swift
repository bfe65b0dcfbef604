#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// The IMF-fixdate form of HTTP dates (RFC 9110 §5.6.7), such as `Sun, 06 Nov 1994 08:49:37 GMT`.
public enum HTTPDate {
    private static let dayNames = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let monthNames = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]

    /// Parses an IMF-fixdate; throws ``EnvelopeError/Code/invalidDate`` for anything else.
    public static func parse(_ text: String) throws(EnvelopeError) -> Date {
        let bytes = Array(text.utf8)
        guard bytes.count == 29,
            let dayName = substring(bytes, 0, 3), dayNames.contains(dayName),
            substring(bytes, 3, 2) == ", ", bytes[7] == UInt8(ascii: " "),
            let day = number(bytes, 5, 2),
            let monthName = substring(bytes, 8, 3), let month = monthNames.firstIndex(of: monthName),
            bytes[11] == UInt8(ascii: " "), let year = number(bytes, 12, 4),
            bytes[16] == UInt8(ascii: " "), let hour = number(bytes, 17, 2),
            bytes[19] == UInt8(ascii: ":"), let minute = number(bytes, 20, 2),
            bytes[22] == UInt8(ascii: ":"), let second = number(bytes, 23, 2),
            substring(bytes, 25, 4) == " GMT",
            (1...daysInMonth(month + 1, year: year)).contains(day), hour < 24, minute < 60, second <= 60
        else {
            throw .invalidDate(reason: "the Date header field of \(bytes.count) bytes is not an IMF-fixdate")
        }
        let days = daysSinceEpoch(year: year, month: month + 1, day: day)
        let seconds = days * 86_400 + hour * 3_600 + minute * 60 + min(second, 59)
        return Date(timeIntervalSince1970: TimeInterval(seconds))
    }

    /// Formats a date as an IMF-fixdate, rounding down to the second and clamping to the years 1 to 9999.
    public static func format(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970
        let clamped = seconds.isNaN ? 0 : min(max(seconds.rounded(.down), -62_135_596_800), 253_402_300_799)
        let total = Int(clamped)
        let days = total >= 0 ? total / 86_400 : (total - 86_399) / 86_400
        let secondOfDay = total - days * 86_400
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        let weekday = ((days % 7) + 11) % 7
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let yearText = String(repeating: "0", count: max(0, 4 - String(year).count)) + String(year)
        return "\(dayNames[weekday]), \(two(day)) \(monthNames[month - 1]) \(yearText) "
            + "\(two(secondOfDay / 3_600)):\(two(secondOfDay % 3_600 / 60)):\(two(secondOfDay % 60)) GMT"
    }

    private static func substring(_ bytes: [UInt8], _ start: Int, _ length: Int) -> String? {
        guard start >= 0, length >= 0, start + length <= bytes.count else {
            return nil
        }
        return String(validating: bytes[start..<(start + length)], as: UTF8.self)
    }

    private static func number(_ bytes: [UInt8], _ start: Int, _ length: Int) -> Int? {
        guard start >= 0, length > 0, start + length <= bytes.count else {
            return nil
        }
        var value = 0
        for byte in bytes[start..<(start + length)] {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else {
                return nil
            }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    private static func isLeapYear(_ year: Int) -> Bool {
        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    }

    private static func daysInMonth(_ month: Int, year: Int) -> Int {
        switch month {
        case 2: isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
    private static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The proleptic Gregorian date of a day count from 1970-01-01 (Howard Hinnant's `civil_from_days`).
    private static func civilDate(daysSinceEpoch: Int) -> (year: Int, month: Int, day: Int) {
        let shifted = daysSinceEpoch + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
