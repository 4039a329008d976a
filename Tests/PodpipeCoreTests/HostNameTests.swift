import Testing

@testable import PodpipeCore

/// `PODPIPE_HOST_NAME` (containers, tests with several hosts on one machine): which values
/// name a host; anything else falls back to gethostname(2).
@Suite struct HostNameTests {
    @Test func printableNamesWithoutSpacesAreHostNames() {
        #expect(DaemonLiveness.validHostName("host-a"))
        #expect(DaemonLiveness.validHostName("db.example.internal"))
        #expect(DaemonLiveness.validHostName(String(repeating: "h", count: 255)))
    }

    @Test func emptyLongSpacedOrControlNamesAreNot() {
        #expect(!DaemonLiveness.validHostName(""))
        #expect(!DaemonLiveness.validHostName(String(repeating: "h", count: 256)))
        #expect(!DaemonLiveness.validHostName("host a"))
        #expect(!DaemonLiveness.validHostName("host\u{1B}[31m"))
        #expect(!DaemonLiveness.validHostName("hôte"))
        #expect(!DaemonLiveness.validHostName("host\n"))
    }
}
