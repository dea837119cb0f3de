// SoukEvent.swift — one entry of a client's ordered event stream.
//
// NOT COMPILED here (no Swift toolchain): see README.md.
import CSouk

/// What happened, in the order the local store committed it. Each event is published right
/// after its change committed, so reading the store when it arrives is always consistent.
public enum SoukEvent: Sendable {
    /// A message appeared: sent here (pending) or received (also the user's own, from another device).
    case messageAdded(Message)
    /// A message's status, server id or failure changed.
    case messageUpdated(Message)
    /// A failed message was deleted.
    case messageDeleted(Message)
    /// A conversation appeared or changed (status, unread count, read positions, server id…).
    case conversationUpdated(Conversation)
    /// A local conversation was merged into the support conversation and no longer exists.
    case conversationRemoved(conversationID: Int64)
    /// Someone started or stopped typing.
    case typing(conversationID: Int64, userID: String?, isTyping: Bool)
    /// The connection state changed; `error` says why it went down (the SDK retries by itself).
    case connectionStateChanged(ConnectionState, error: SoukError?, wireCode: Int32)
    /// The SDK needs a fresh token: get one from your backend and call `setToken`.
    case tokenNeeded(wireCode: Int32, message: String?)
    /// Catching up after a connect started / finished (live after finished).
    case syncStarted
    case syncFinished
    /// Nobody iterated ``SoukClient/events`` for too long and events were dropped: reload from the store.
    case eventsDropped
    /// The server has the latest shopping context of a conversation.
    case contextUpdated(conversationID: Int64)
    /// The server refused the latest shopping context of a conversation for good.
    case contextFailed(conversationID: Int64, error: SoukError?, wireCode: Int32)
    /// A marketer's in-app push arrived (once per store).
    case pushReceived(InAppPush)
    /// An event type added by a newer libsouk.
    case unknown(type: Int)

    /// Reads a souk_event (the caller still frees it).
    init(reading e: OpaquePointer) {
        let error: SoukError? = {
            let code = souk_event_get_error(e)
            return code == 0 ? nil : SoukError(code: code, message: cString(souk_event_get_error_message(e)) ?? "")
        }()
        let conversationID = souk_event_get_conversation_id(e)
        let type = cInt(souk_event_get_type(e))
        switch type {
        case 1, 2, 3:
            guard let m = souk_event_get_message(e) else { self = .unknown(type: type); return }
            let message = Message(reading: m)
            self = type == 1 ? .messageAdded(message) : type == 2 ? .messageUpdated(message) : .messageDeleted(message)
        case 4:
            guard let c = souk_event_get_conversation(e) else { self = .unknown(type: type); return }
            self = .conversationUpdated(Conversation(reading: c))
        case 5: self = .conversationRemoved(conversationID: conversationID)
        case 6:
            self = .typing(conversationID: conversationID, userID: cString(souk_event_get_user_id(e)),
                           isTyping: souk_event_get_typing(e) != 0)
        case 7:
            self = .connectionStateChanged(
                ConnectionState(rawValue: cInt(souk_event_get_connection_state(e))) ?? .unknown,
                error: error, wireCode: souk_event_get_wire_code(e))
        case 8:
            self = .tokenNeeded(wireCode: souk_event_get_wire_code(e), message: cString(souk_event_get_error_message(e)))
        case 9: self = .syncStarted
        case 10: self = .syncFinished
        case 11: self = .eventsDropped
        case 12: self = .contextUpdated(conversationID: conversationID)
        case 13: self = .contextFailed(conversationID: conversationID, error: error, wireCode: souk_event_get_wire_code(e))
        case 14:
            guard let p = souk_event_get_push(e) else { self = .unknown(type: type); return }
            self = .pushReceived(InAppPush(reading: p))
        default: self = .unknown(type: type)
        }
    }
}
