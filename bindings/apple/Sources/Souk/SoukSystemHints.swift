// SoukSystemHints.swift — tells a SoukClient what the system knows: the app going to the
// background or coming back (UIKit), and the network path changing (Network framework).
//
// NOT COMPILED here (no Swift toolchain): see README.md.
import Foundation
import Network
#if canImport(UIKit)
import UIKit
#endif

/// Keep one for the life of the client; it stops observing when released or ``stop()``ped.
///
/// ```swift
/// let hints = SoukSystemHints(client: souk)
/// ```
/// Hints change timing only. For a remote notification, call `try souk.hint(.pushReceived)` from
/// `application(_:didReceiveRemoteNotification:fetchCompletionHandler:)`.
public final class SoukSystemHints: @unchecked Sendable {
    private weak var client: SoukClient?
    private let monitor = NWPathMonitor()
    private var observers: [NSObjectProtocol] = []
    private var lastStatus: NWPath.Status?

    public init(client: SoukClient) {
        self.client = client
        monitor.pathUpdateHandler = { [weak self] path in
            guard let self else { return }
            // every satisfied update is a possible change (Wi-Fi to cellular): reconnect or probe
            if path.status == .satisfied {
                try? self.client?.hint(.networkChanged)
            } else if self.lastStatus == .satisfied {
                try? self.client?.hint(.networkLost)
            }
            self.lastStatus = path.status
        }
        monitor.start(queue: DispatchQueue(label: "io.souk.path"))
        #if canImport(UIKit)
        let center = NotificationCenter.default
        observers.append(center.addObserver(forName: UIApplication.didEnterBackgroundNotification, object: nil,
                                            queue: nil) { [weak self] _ in try? self?.client?.hint(.background) })
        observers.append(center.addObserver(forName: UIApplication.willEnterForegroundNotification, object: nil,
                                            queue: nil) { [weak self] _ in try? self?.client?.hint(.foreground) })
        #endif
    }

    public func stop() {
        monitor.cancel()
        observers.forEach { NotificationCenter.default.removeObserver($0) }
        observers.removeAll()
    }

    deinit { stop() }
}
