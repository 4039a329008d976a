import Foundation

/// The `STATUS=` line systemd shows in `systemctl status podpiped`:
/// `idle · 42 files loaded · 1 failed · gold 2 min old`.
enum DaemonStatusLine {
    static func render(
        activity: String, loaded: Int64, failed: Int64, goldRefreshedAt: Date?, now: Date
    ) -> String {
        var parts = [activity, "\(loaded) file\(loaded == 1 ? "" : "s") loaded"]
        if failed > 0 { parts.append("\(failed) failed") }
        if let goldRefreshedAt {
            let age = max(0, Int(now.timeIntervalSince(goldRefreshedAt)))
            parts.append(
                "gold \(age < 60 ? "\(age) s" : age < 7200 ? "\(age / 60) min" : "\(age / 3600) h") old")
        } else {
            parts.append("gold not refreshed yet")
        }
        return parts.joined(separator: " · ")
    }
}
