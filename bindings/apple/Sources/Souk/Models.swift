// Models.swift — the values the Swift API hands out: immutable snapshots of messages,
// conversations and pushes, and Swift enums for libsouk's C enums.
//
// NOT COMPILED here (no Swift toolchain): see README.md.
import CSouk

/// Converts a C enum value (imported by Swift as a RawRepresentable whose raw type is Int32 or
/// UInt32, depending on the enum) to a Swift Int.
@inline(__always)
func cInt<E: RawRepresentable>(_ value: E) -> Int where E.RawValue: BinaryInteger {
    Int(truncatingIfNeeded: value.rawValue)
}

/// A borrowed, possibly NULL, C string as a Swift String.
@inline(__always)
func cString(_ p: UnsafePointer<CChar>?) -> String? {
    p.map { String(cString: $0) }
}

/// Where a message is in its life. Outgoing: pending → sent → delivered → read, or failed.
public enum MessageStatus: Int, Sendable {
    /// Committed locally and waiting in the outbox; it survives the app being killed.
    case pending = 1
    /// The server has made it durable.
    case sent = 2
    /// Another participant's device has it.
    case delivered = 3
    /// Another participant has read it.
    case read = 4
    /// Refused for good by the server: see ``Message/failureCode`` and ``Message/failureReason``.
    case failed = 5
    /// An incoming message.
    case received = 6
    case unknown = 0
}

/// Who wrote a message.
public enum SenderKind: Int, Sendable {
    case unspecified = 0, shopper = 1, agent = 2, bot = 3, system = 4, unknown = -1
}

/// The kind of a message's content. Kinds this version cannot render still have a
/// ``Message/text`` to show.
public enum ContentKind: Int, Sendable {
    case unknown = 0, text = 1, attachment = 2, product = 3, order = 4, quickReplies = 5
    case csatSurvey = 6, csatAnswer = 7
}

/// A conversation's status on the shop's side.
public enum ConversationStatus: Int, Sendable {
    case unknown = 0, open = 1, pending = 2, resolved = 3
}

/// The connection to the Souk server.
public enum ConnectionState: Int, Sendable {
    /// The client is not started.
    case stopped = 0
    /// Waiting to retry, for a token, or for the network.
    case waiting = 1
    /// Connecting and authenticating.
    case connecting = 2
    /// Authenticated; syncing or live.
    case connected = 3
    case unknown = -1
}

/// Which way ``SoukClient/messages(in:anchor:direction:limit:)`` pages from its anchor.
public enum PageDirection: Int, Sendable {
    /// Messages before the anchor (anchor 0: the newest page).
    case before = 0
    /// Messages after the anchor (anchor 0: the oldest page).
    case after = 1
}

/// What the app knows about its surroundings. Hints change timing, never what is delivered.
public enum Hint: Int, Sendable {
    /// The network came back or changed (NWPathMonitor): reconnect now.
    case networkChanged = 1
    /// No network: disconnect, and make no attempts until it changes or the app comes forward.
    case networkLost = 2
    /// The app came to the foreground: connect now.
    case foreground = 3
    /// The app went to the background: finish the outbox, then disconnect.
    case background = 4
    /// A push notification woke the app: connect and sync.
    case pushReceived = 5
}

/// Money: an integer amount in the currency's minor unit (cents) and an ISO 4217 code.
public struct Money: Sendable, Hashable {
    public var amountMinor: Int64
    public var currency: String
    public init(amountMinor: Int64, currency: String) {
        self.amountMinor = amountMinor
        self.currency = currency
    }
}

/// A line of an order or a cart.
public struct LineItem: Sendable, Hashable {
    public var productID: String?
    public var title: String?
    public var quantity: UInt32
    public var price: Money?
    public init(productID: String? = nil, title: String? = nil, quantity: UInt32 = 1, price: Money? = nil) {
        self.productID = productID
        self.title = title
        self.quantity = quantity
        self.price = price
    }
}

/// A message's content, typed. Every kind may carry a fallback text for clients that do not
/// render it.
public enum Content: Sendable, Hashable {
    case text(String)
    case attachment(url: String, mimeType: String, fileName: String?, sizeBytes: UInt64, width: UInt32, height: UInt32)
    case product(Product)
    case order(Order)
    case quickReplies(prompt: String?, replies: [QuickReply])
    case csatSurvey(surveyID: String, question: String?, scale: UInt32)
    case csatAnswer(surveyID: String, rating: UInt32, comment: String?)
    case unknown

    public struct Product: Sendable, Hashable {
        public var productID: String?
        public var title: String
        public var imageURL: String?
        public var url: String?
        public var price: Money?
        public init(productID: String? = nil, title: String, imageURL: String? = nil, url: String? = nil, price: Money? = nil) {
            self.productID = productID
            self.title = title
            self.imageURL = imageURL
            self.url = url
            self.price = price
        }
    }

    public struct Order: Sendable, Hashable {
        public var orderID: String
        public var status: String?
        public var items: [LineItem]
        public var total: Money?
        public init(orderID: String, status: String? = nil, items: [LineItem] = [], total: Money? = nil) {
            self.orderID = orderID
            self.status = status
            self.items = items
            self.total = total
        }
    }

    public struct QuickReply: Sendable, Hashable {
        public var id: String
        public var title: String
    }

    public var kind: ContentKind {
        switch self {
        case .text: return .text
        case .attachment: return .attachment
        case .product: return .product
        case .order: return .order
        case .quickReplies: return .quickReplies
        case .csatSurvey: return .csatSurvey
        case .csatAnswer: return .csatAnswer
        case .unknown: return .unknown
        }
    }
}

private func money(_ amount: Int64, _ currency: UnsafePointer<CChar>?) -> Money? {
    cString(currency).map { Money(amountMinor: amount, currency: $0) }
}

extension Content.Product {
    /// Reads a borrowed souk_content of kind PRODUCT.
    init(reading c: OpaquePointer) {
        self.init(productID: cString(souk_content_get_product_id(c)),
                  title: cString(souk_content_get_product_title(c)) ?? "",
                  imageURL: cString(souk_content_get_product_image_url(c)),
                  url: cString(souk_content_get_product_url(c)),
                  price: money(souk_content_get_product_price_minor(c), souk_content_get_product_price_currency(c)))
    }
}

extension Content {
    /// Reads a borrowed souk_content (the C value is not retained).
    init(reading c: OpaquePointer) {
        switch ContentKind(rawValue: cInt(souk_content_get_kind(c))) ?? .unknown {
        case .text:
            self = .text(cString(souk_content_get_text(c)) ?? "")
        case .attachment:
            self = .attachment(url: cString(souk_content_get_attachment_url(c)) ?? "",
                               mimeType: cString(souk_content_get_attachment_mime_type(c)) ?? "",
                               fileName: cString(souk_content_get_attachment_file_name(c)),
                               sizeBytes: souk_content_get_attachment_size(c),
                               width: souk_content_get_attachment_width(c),
                               height: souk_content_get_attachment_height(c))
        case .product:
            self = .product(Product(reading: c))
        case .order:
            let items = (0..<souk_content_get_order_item_count(c)).map { i in
                LineItem(productID: cString(souk_content_get_order_item_product_id(c, i)),
                         title: cString(souk_content_get_order_item_title(c, i)),
                         quantity: souk_content_get_order_item_quantity(c, i),
                         price: money(souk_content_get_order_item_price_minor(c, i),
                                      souk_content_get_order_item_price_currency(c, i)))
            }
            self = .order(Order(orderID: cString(souk_content_get_order_id(c)) ?? "",
                                status: cString(souk_content_get_order_status(c)), items: items,
                                total: money(souk_content_get_order_total_minor(c),
                                             souk_content_get_order_total_currency(c))))
        case .quickReplies:
            let replies = (0..<souk_content_get_quick_reply_count(c)).map { i in
                QuickReply(id: cString(souk_content_get_quick_reply_id(c, i)) ?? "",
                           title: cString(souk_content_get_quick_reply_title(c, i)) ?? "")
            }
            self = .quickReplies(prompt: cString(souk_content_get_quick_replies_prompt(c)), replies: replies)
        case .csatSurvey:
            self = .csatSurvey(surveyID: cString(souk_content_get_csat_survey_id(c)) ?? "",
                               question: cString(souk_content_get_csat_question(c)),
                               scale: souk_content_get_csat_scale(c))
        case .csatAnswer:
            self = .csatAnswer(surveyID: cString(souk_content_get_csat_survey_id(c)) ?? "",
                               rating: souk_content_get_csat_rating(c),
                               comment: cString(souk_content_get_csat_comment(c)))
        case .unknown:
            self = .unknown
        }
    }
}

/// A message as the local store knew it when the snapshot was taken. A later change arrives as
/// a new snapshot in ``SoukEvent/messageUpdated(_:)``; snapshots never change.
public struct Message: Sendable, Hashable, Identifiable {
    /// The local id (> 0), stable for the life of the store.
    public let id: Int64
    public let conversationID: Int64
    /// The server's id; nil while pending or failed.
    public let serverID: String?
    /// 32 hex characters, stable across retries; "" for agent messages.
    public let clientMessageID: String
    /// Position in the conversation (1, 2, …); 0 until sent.
    public let conversationSeq: UInt64
    public let senderID: String?
    public let senderKind: SenderKind
    public let senderName: String?
    public let senderAvatarURL: String?
    /// True when the current user sent it (from this or another of their devices).
    public let isOutgoing: Bool
    public let status: MessageStatus
    public let contentKind: ContentKind
    /// The typed content (render the kinds you know from it); nil only if it could not be decoded.
    public let content: Content?
    /// What to show: the text, or the fallback text / a label for other kinds.
    public let text: String
    /// For failed messages: the server's wire code (docs/protocol.md) and reason.
    public let failureCode: Int32
    public let failureReason: String?
    /// Milliseconds since the epoch: created on this device, stored by the server (0 until sent).
    public let createdAtMillis: Int64
    public let serverTimeMillis: Int64

    /// Reads a borrowed souk_message.
    init(reading m: OpaquePointer) {
        id = souk_message_get_id(m)
        conversationID = souk_message_get_conversation_id(m)
        serverID = cString(souk_message_get_server_id(m))
        clientMessageID = String(cString: souk_message_get_client_msg_id(m))
        conversationSeq = souk_message_get_conv_seq(m)
        senderID = cString(souk_message_get_sender_id(m))
        senderKind = SenderKind(rawValue: cInt(souk_message_get_sender_kind(m))) ?? .unknown
        senderName = cString(souk_message_get_sender_name(m))
        senderAvatarURL = cString(souk_message_get_sender_avatar_url(m))
        isOutgoing = souk_message_is_outgoing(m) != 0
        status = MessageStatus(rawValue: cInt(souk_message_get_status(m))) ?? .unknown
        contentKind = ContentKind(rawValue: cInt(souk_message_get_content_kind(m))) ?? .unknown
        content = souk_message_get_content(m).map { Content(reading: $0) }
        text = String(cString: souk_message_get_text(m))
        failureCode = souk_message_get_failure_code(m)
        failureReason = cString(souk_message_get_failure_reason(m))
        createdAtMillis = souk_message_get_created_ms(m)
        serverTimeMillis = souk_message_get_server_time_ms(m)
    }
}

/// A conversation as the local store knew it when the snapshot was taken.
public struct Conversation: Sendable, Hashable, Identifiable {
    /// The local id (> 0); exists before the server knows the conversation.
    public let id: Int64
    /// The server's id; nil until the server has confirmed the conversation.
    public let serverID: String?
    public let isSupport: Bool
    public let status: ConversationStatus
    /// Incoming messages after the user's read position.
    public let unreadCount: UInt64
    public let readUpTo: UInt64
    public let peerReadUpTo: UInt64
    public let lastConversationSeq: UInt64
    /// The integration in control on the shop's side ("desk", a bot's name), when reported.
    public let controller: String?
    /// The agent assigned by the shop, if any.
    public let assignee: String?
    public let lastMessage: Message?

    init(reading c: OpaquePointer) {
        id = souk_conversation_get_id(c)
        serverID = cString(souk_conversation_get_server_id(c))
        isSupport = souk_conversation_is_support(c) != 0
        status = ConversationStatus(rawValue: cInt(souk_conversation_get_status(c))) ?? .unknown
        unreadCount = souk_conversation_get_unread_count(c)
        readUpTo = souk_conversation_get_read_up_to(c)
        peerReadUpTo = souk_conversation_get_peer_read_up_to(c)
        lastConversationSeq = souk_conversation_get_last_conv_seq(c)
        controller = cString(souk_conversation_get_controller(c))
        assignee = cString(souk_conversation_get_assignee(c))
        lastMessage = souk_conversation_get_last_message(c).map { Message(reading: $0) }
    }
}

/// A marketer's in-app push, delivered once per store in the event stream.
public struct InAppPush: Sendable, Hashable, Identifiable {
    public let id: String
    public let title: String?
    public let body: String?
    public let imageURL: String?
    public let deepLink: String?
    public let product: Content.Product?
    public let serverTimeMillis: Int64

    init(reading p: OpaquePointer) {
        id = String(cString: souk_push_get_id(p))
        title = cString(souk_push_get_title(p))
        body = cString(souk_push_get_body(p))
        imageURL = cString(souk_push_get_image_url(p))
        deepLink = cString(souk_push_get_deep_link(p))
        product = souk_push_get_product(p).map { Content.Product(reading: $0) }
        serverTimeMillis = souk_push_get_server_time_ms(p)
    }
}
