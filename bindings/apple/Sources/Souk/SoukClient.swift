// SoukClient.swift — one user's Souk chat on this device, over libsouk's C API.
//
// The exact sequence of C calls made here is replayed in C, against a real soukd, by
// tests/bindings/apple_call_sequence.c (ctest apple_call_sequence): keep the two in step.
//
// NOT COMPILED here (no Swift toolchain): see README.md.
import CSouk
import Foundation

/// One user's Souk chat on this device: an encrypted local store, a durable outbox, and (once
/// started) a connection to the Souk server that syncs and sends.
///
/// ```swift
/// let souk = try SoukClient(configuration: config)
/// try souk.login(token: tokenFromYourBackend)
/// try souk.start()
/// Task { for await event in souk.events { render(event) } }
/// let conversation = try await souk.openSupportConversation()
/// let message = try await souk.send("Where is my order?", in: conversation)  // durable now
/// ```
///
/// **Threads.** Every method may be called from any thread or task, concurrently. The `async`
/// ones run their blocking work (a store write ends in an fsync) on a private queue, never on
/// the caller's actor. **Lifetime.** ``close()`` (or the last reference going away) stops the
/// connection, ends the event thread and frees the native client.
public final class SoukClient: @unchecked Sendable {
    private let handle: OpaquePointer
    private let lock = ReadWriteLock()
    private var isClosedFlag = false // written under the write lock
    private let pump: EventPump
    private let work = DispatchQueue(label: "io.souk.client", qos: .userInitiated, attributes: .concurrent)

    /// The ordered event stream. Iterate it from one task for the life of the client: each event
    /// is delivered once, in order. The stream pulls: events wait in libsouk's bounded queue
    /// until you ask for the next one. It finishes when the client is closed.
    public let events: AsyncStream<SoukEvent>

    /// Opens (or creates) the encrypted store. Does not connect: see ``start()``.
    /// - Throws: ``SoukError/wrongKey(_:)``, ``SoukError/invalidArgument(_:)``,
    ///   ``SoukError/incompatibleLibrary(_:)``…
    public init(configuration config: SoukConfiguration) throws {
        // the load-time check: the libsouk linked in must be the one these headers describe
        let loaded = souk_version_number()
        guard loaded / 10000 == SOUK_VERSION_NUMBER / 10000, loaded >= SOUK_VERSION_NUMBER else {
            throw SoukError.incompatibleLibrary(
                "libsouk \(String(cString: souk_version())) is loaded; this Souk needs \(SOUK_VERSION_STRING) or a later minor")
        }
        var o = souk_client_options()
        try Self.check(souk_client_options_init(&o, UInt32(SOUK_CLIENT_OPTIONS_VERSION)), nil)
        // libsouk copies every string during souk_client_create; these live until it returns
        var owned: [UnsafeMutablePointer<CChar>] = []
        defer { owned.forEach { free($0) } }
        func dup(_ s: String?) throws -> UnsafePointer<CChar>? {
            guard let s else { return nil }
            guard !s.utf8.contains(0) else { throw SoukError.invalidArgument("a string contains a NUL character") }
            guard let p = strdup(s) else { throw SoukError.outOfMemory("strdup") }
            owned.append(p)
            return UnsafePointer(p)
        }
        o.server_url = try dup(config.serverURL)
        o.app_id = try dup(config.appID)
        o.db_path = try dup(config.databaseURL.path)
        o.device_id = try dup(config.deviceID)
        o.platform = souk_platform(rawValue: numericCast(config.platform.rawValue))!
        o.tls_ca_file = try dup(config.tlsCAFile)
        o.tls_pins = try dup(config.tlsPins.isEmpty ? nil : config.tlsPins.joined(separator: ","))
        o.heartbeat_s = config.heartbeatSeconds
        o.reconnect_min_ms = config.reconnectMinMillis
        o.reconnect_max_ms = config.reconnectMaxMillis
        o.max_queued_events = config.maxQueuedEvents
        o.log_level = souk_log_level(rawValue: numericCast(config.logger == nil ? 0 : config.logLevel.rawValue))!
        if let logger = config.logger {
            // released by log_destroy, which libsouk calls exactly once (free, or failed create)
            o.log_user_data = Unmanaged.passRetained(LogBox(logger)).toOpaque()
            o.log_cb = { level, message, box in
                guard let box else { return }
                Unmanaged<LogBox>.fromOpaque(box).takeUnretainedValue()
                    .fn(LogLevel(rawValue: cInt(level)) ?? .debug, String(cString: message))
            }
            o.log_destroy = { box in
                if let box { Unmanaged<LogBox>.fromOpaque(box).release() }
            }
        }
        var client: OpaquePointer?
        let r = config.databaseKey.withUnsafeBytes { key -> Int32 in
            o.db_key = key.bindMemory(to: UInt8.self).baseAddress
            o.db_key_len = key.count
            return souk_client_create(&client, &o)
        }
        try Self.check(r, nil) // the message of a failed create: souk_client_errmsg(NULL)
        handle = client!
        pump = EventPump(client: handle)
        let pump = self.pump
        events = AsyncStream(unfolding: { await pump.next() })
    }

    deinit {
        close()
    }

    /// Throws the error for a failed call; `client` nil for souk_client_create. The message is
    /// libsouk's thread-local one: read at once, on the thread that made the call.
    private static func check(_ r: Int32, _ client: OpaquePointer?) throws {
        guard r != 0 else { return }
        throw SoukError(code: r, message: String(cString: souk_client_errmsg(client)))
    }

    private func check(_ r: Int32) throws {
        try Self.check(r, handle)
    }

    /// Runs `body` with the live handle (read lock: concurrent with other calls, never with close).
    private func use<T>(_ body: (OpaquePointer) throws -> T) throws -> T {
        lock.lockRead()
        defer { lock.unlock() }
        guard !isClosedFlag else { throw SoukError.closed }
        return try body(handle)
    }

    /// Runs blocking libsouk work off the caller's executor.
    private func background<T: Sendable>(_ body: @escaping @Sendable (OpaquePointer) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            work.async {
                continuation.resume(with: Result { try self.use(body) })
            }
        }
    }

    private static func noNUL(_ s: String, _ what: String) throws {
        if s.utf8.contains(0) { throw SoukError.invalidArgument("\(what) contains a NUL character") }
    }

    // MARK: lifecycle and session

    /// Starts the connection: connect, sync, send the outbox, reconnect when needed.
    public func start() throws {
        try use { c in try check(souk_client_start(c)) }
        pump.restarted()
    }

    /// Stops the connection; pending messages stay in the outbox. ``start()`` resumes.
    public func stop() async throws {
        try await background { c in try self.check(souk_client_stop(c)) }
    }

    /// Starts a session with a token (a JWT your backend minted for this shopper). Kept in
    /// memory only: call it after every ``init(configuration:)``.
    public func login(token: String) throws {
        try Self.noNUL(token, "the token")
        try use { c in try check(souk_client_login(c, token)) }
    }

    /// Hands over a fresh token after ``SoukEvent/tokenNeeded(wireCode:message:)``.
    public func setToken(_ token: String) throws {
        try Self.noNUL(token, "the token")
        try use { c in try check(souk_client_set_token(c, token)) }
    }

    /// Logs out. With `wipe`, also deletes the database and its -wal/-shm/-journal files and
    /// starts over with an empty store (same key, same device id).
    public func logout(wipe: Bool = false) async throws {
        try await background { c in
            defer { self.pump.restarted() } // logout stopped and restarted the SDK thread
            try self.check(souk_client_logout(c, souk_logout_mode(rawValue: wipe ? 1 : 0)!))
        }
    }

    /// Tells the SDK what the app knows (see ``Hint``).
    public func hint(_ hint: Hint) throws {
        try use { c in try check(souk_client_hint(c, souk_hint(rawValue: numericCast(hint.rawValue))!)) }
    }

    /// The current connection state.
    public var connectionState: ConnectionState {
        (try? use { c in ConnectionState(rawValue: cInt(souk_client_get_connection_state(c))) ?? .unknown }) ?? .stopped
    }

    /// This installation's device id.
    public var deviceID: String {
        (try? use { c in String(cString: souk_client_get_device_id(c)) }) ?? ""
    }

    // MARK: conversations and messages

    /// The shopper's support conversation: its local id at once, offline or not.
    public func openSupportConversation() async throws -> Int64 {
        try await background { c in
            var id: Int64 = 0
            try self.check(souk_client_open_support_conversation(&id, c))
            return id
        }
    }

    /// Sends a text message. When this returns, the message is committed to the encrypted store
    /// with its outbox entry: it survives the app being killed and reaches the server exactly
    /// once. Returns the local message (pending, or later if already sent).
    public func send(_ text: String, in conversationID: Int64) async throws -> Message {
        try Self.noNUL(text, "the text")
        return try await background { c in
            var id: Int64 = 0
            try self.check(souk_client_send_text(&id, c, conversationID, text))
            return try self.snapshot(c, id)
        }
    }

    /// Sends rich content (a product card, an order card, an attachment…), with the guarantees of
    /// ``send(_:in:)``. The content is validated first (``SoukError/invalidArgument(_:)`` names the field).
    public func send(_ content: Content, fallbackText: String? = nil, in conversationID: Int64) async throws -> Message {
        try await background { c in
            let native = try NativeContent(content, fallbackText: fallbackText)
            var id: Int64 = 0
            try self.check(souk_client_send_content(&id, c, conversationID, native.pointer))
            return try self.snapshot(c, id)
        }
    }

    /// The shopper tapped a quick reply of message `messageID`: sends its title as their answer.
    public func sendQuickReply(_ replyID: String, to messageID: Int64, in conversationID: Int64) async throws -> Message {
        try Self.noNUL(replyID, "the reply id")
        return try await background { c in
            var id: Int64 = 0
            try self.check(souk_client_send_quick_reply(&id, c, conversationID, messageID, replyID))
            return try self.snapshot(c, id)
        }
    }

    /// Answers the satisfaction survey of message `surveyMessageID` with `rating` (1…its scale).
    public func answerSurvey(_ surveyMessageID: Int64, rating: UInt32, comment: String? = nil,
                             in conversationID: Int64) async throws -> Message {
        return try await background { c in
            var id: Int64 = 0
            try self.check(souk_client_answer_csat(&id, c, conversationID, surveyMessageID, rating, comment))
            return try self.snapshot(c, id)
        }
    }

    private func snapshot(_ c: OpaquePointer, _ id: Int64) throws -> Message {
        var m: OpaquePointer?
        try check(souk_client_get_message(&m, c, id))
        defer { souk_message_free(m) }
        return Message(reading: m!)
    }

    /// Puts a failed message back in the outbox (same client message id).
    public func resend(_ messageID: Int64) async throws {
        try await background { c in try self.check(souk_client_resend(c, messageID)) }
    }

    /// Deletes a failed message. Messages the server has are never deleted.
    public func deleteFailed(_ messageID: Int64) async throws {
        try await background { c in try self.check(souk_client_delete_failed(c, messageID)) }
    }

    /// A snapshot of one message.
    public func message(_ messageID: Int64) async throws -> Message {
        try await background { c in try self.snapshot(c, messageID) }
    }

    /// One page of a conversation from the local store, oldest first, in display order.
    /// `anchor` 0 with `.before`: the newest page; pass the first message's id for the page before it.
    public func messages(in conversationID: Int64, anchor: Int64 = 0, direction: PageDirection = .before,
                         limit: UInt32 = 50) async throws -> [Message] {
        try await background { c in
            var list: OpaquePointer?
            try self.check(souk_client_list_messages(&list, c, conversationID, anchor,
                                                     souk_page_direction(rawValue: numericCast(direction.rawValue))!, limit))
            defer { souk_message_list_free(list) }
            return (0..<souk_message_list_count(list!)).compactMap { i in
                souk_message_list_get(list!, i).map { Message(reading: $0) }
            }
        }
    }

    /// All local conversations, most recently active first.
    public func conversations() async throws -> [Conversation] {
        try await background { c in
            var list: OpaquePointer?
            try self.check(souk_client_list_conversations(&list, c))
            defer { souk_conversation_list_free(list) }
            return (0..<souk_conversation_list_count(list!)).compactMap { i in
                souk_conversation_list_get(list!, i).map { Conversation(reading: $0) }
            }
        }
    }

    /// Marks a conversation read up to and including a message (0: its newest).
    public func markRead(_ conversationID: Int64, upTo messageID: Int64 = 0) async throws {
        try await background { c in try self.check(souk_client_mark_read(c, conversationID, messageID)) }
    }

    /// Tells the other participants the user started or stopped typing (dropped when offline).
    public func setTyping(_ typing: Bool, in conversationID: Int64) throws {
        try use { c in try check(souk_client_set_typing(c, conversationID, typing ? 1 : 0)) }
    }

    /// Number of messages waiting in the outbox.
    public func outboxCount() async throws -> Int {
        try await background { c in
            var n = 0
            try self.check(souk_client_outbox_count(&n, c))
            return n
        }
    }

    /// The most recent stored in-app pushes, newest first.
    public func pushes(limit: UInt32 = 50) async throws -> [InAppPush] {
        try await background { c in
            var list: OpaquePointer?
            try self.check(souk_client_list_pushes(&list, c, limit))
            defer { souk_push_list_free(list) }
            return (0..<souk_push_list_count(list!)).compactMap { i in
                souk_push_list_get(list!, i).map { InAppPush(reading: $0) }
            }
        }
    }

    /// Closes the client: stops the connection, ends the event thread, frees the native client
    /// and finishes ``events``. Pending messages stay in the store. Idempotent.
    public func close() {
        lock.lockWrite()
        defer { lock.unlock() }
        guard !isClosedFlag else { return }
        isClosedFlag = true
        pump.beginClose()
        souk_client_stop(handle) // wakes the pump's souk_client_next_event
        pump.join()
        souk_client_free(handle)
    }

    /// The version of the libsouk linked in.
    public static var libraryVersion: String { String(cString: souk_version()) }
}

/// The app's logger, retained for libsouk (user_data) and released by its destroy callback.
private final class LogBox {
    let fn: @Sendable (LogLevel, String) -> Void
    init(_ fn: @escaping @Sendable (LogLevel, String) -> Void) { self.fn = fn }
}

/// A souk_content built from a ``Content``, freed with this object.
private final class NativeContent {
    let pointer: OpaquePointer

    init(_ content: Content, fallbackText: String?) throws {
        var p: OpaquePointer?
        let kind = content.kind
        guard kind != .unknown else { throw SoukError.invalidArgument("cannot send unknown content") }
        try Self.check(souk_content_create(&p, souk_content_kind(rawValue: numericCast(kind.rawValue))!))
        pointer = p!
        do {
            try fill(content)
            if let fallbackText { try Self.check(souk_content_set_fallback_text(pointer, fallbackText)) }
        } catch {
            souk_content_free(pointer)
            throw error
        }
    }

    deinit { souk_content_free(pointer) }

    private static func check(_ r: Int32) throws {
        guard r != 0 else { return }
        throw SoukError(code: r, message: String(cString: souk_client_errmsg(nil)))
    }

    private func fill(_ content: Content) throws {
        let c = pointer
        switch content {
        case .text(let body):
            try Self.check(souk_content_set_text(c, body))
        case let .attachment(url, mimeType, fileName, size, width, height):
            try Self.check(souk_content_set_attachment_url(c, url))
            try Self.check(souk_content_set_attachment_mime_type(c, mimeType))
            try Self.check(souk_content_set_attachment_file_name(c, fileName))
            try Self.check(souk_content_set_attachment_size(c, size))
            if width > 0 || height > 0 { try Self.check(souk_content_set_attachment_dimensions(c, width, height)) }
        case .product(let p):
            try Self.check(souk_content_set_product_title(c, p.title))
            try Self.check(souk_content_set_product_id(c, p.productID))
            try Self.check(souk_content_set_product_image_url(c, p.imageURL))
            try Self.check(souk_content_set_product_url(c, p.url))
            if let price = p.price { try Self.check(souk_content_set_product_price(c, price.amountMinor, price.currency)) }
        case .order(let o):
            try Self.check(souk_content_set_order_id(c, o.orderID))
            try Self.check(souk_content_set_order_status(c, o.status))
            for item in o.items {
                try Self.check(souk_content_add_order_item(c, item.productID, item.title, item.quantity,
                                                           item.price?.amountMinor ?? 0, item.price?.currency))
            }
            if let total = o.total { try Self.check(souk_content_set_order_total(c, total.amountMinor, total.currency)) }
        case let .quickReplies(prompt, replies):
            try Self.check(souk_content_set_quick_replies_prompt(c, prompt))
            for r in replies { try Self.check(souk_content_add_quick_reply(c, r.id, r.title)) }
        case let .csatSurvey(surveyID, question, scale):
            try Self.check(souk_content_set_csat_survey_id(c, surveyID))
            try Self.check(souk_content_set_csat_question(c, question))
            try Self.check(souk_content_set_csat_scale(c, scale))
        case let .csatAnswer(surveyID, rating, comment):
            try Self.check(souk_content_set_csat_survey_id(c, surveyID))
            try Self.check(souk_content_set_csat_rating(c, rating))
            try Self.check(souk_content_set_csat_comment(c, comment))
        case .unknown:
            throw SoukError.invalidArgument("cannot send unknown content")
        }
    }
}

/// Pulls libsouk's event stream on a dedicated thread ("souk-events"), one event per demand.
///
/// `next()` registers a demand; the thread then blocks in souk_client_next_event(-1) and resumes
/// the demand with the event. Without demand the thread waits and events stay in libsouk's
/// bounded queue. SOUK_ESTATE (stopped, or inside a logout, which stops and restarts the SDK
/// thread) does not end the pump: it waits for ``restarted()`` or ``beginClose()``.
private final class EventPump: @unchecked Sendable {
    private let client: OpaquePointer
    private let cond = NSCondition()
    private var demand: [CheckedContinuation<SoukEvent?, Never>] = []
    private var closing = false
    private var finished = false
    private var generation = 0
    private let done = DispatchSemaphore(value: 0)

    init(client: OpaquePointer) {
        self.client = client
        let thread = Thread { [self] in self.run() }
        thread.name = "souk-events"
        thread.qualityOfService = .userInitiated
        thread.start()
    }

    func next() async -> SoukEvent? {
        await withCheckedContinuation { continuation in
            cond.lock()
            if closing || finished {
                cond.unlock()
                continuation.resume(returning: nil)
                return
            }
            demand.append(continuation)
            cond.broadcast()
            cond.unlock()
        }
    }

    func restarted() {
        cond.lock()
        generation += 1
        cond.broadcast()
        cond.unlock()
    }

    func beginClose() {
        cond.lock()
        closing = true
        cond.broadcast()
        cond.unlock()
    }

    func join() {
        done.wait()
    }

    private func run() {
        cond.lock()
        while true {
            while demand.isEmpty && !closing { cond.wait() }
            if closing { break }
            let seen = generation
            cond.unlock()
            var event: OpaquePointer?
            let r = souk_client_next_event(&event, client, -1)
            cond.lock()
            if r == 0, let event {
                let value = SoukEvent(reading: event)
                souk_event_free(event)
                demand.removeFirst().resume(returning: value)
            } else {
                while !closing && generation == seen { cond.wait() }
            }
        }
        finished = true
        let waiting = demand
        demand.removeAll()
        cond.unlock()
        waiting.forEach { $0.resume(returning: nil) }
        done.signal()
    }
}

/// pthread_rwlock_t in stable memory.
private final class ReadWriteLock: @unchecked Sendable {
    private let rw: UnsafeMutablePointer<pthread_rwlock_t>
    init() {
        rw = .allocate(capacity: 1)
        pthread_rwlock_init(rw, nil)
    }
    deinit {
        pthread_rwlock_destroy(rw)
        rw.deallocate()
    }
    func lockRead() { pthread_rwlock_rdlock(rw) }
    func lockWrite() { pthread_rwlock_wrlock(rw) }
    func unlock() { pthread_rwlock_unlock(rw) }
}
