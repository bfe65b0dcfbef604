import Glibc
import NIOCore
import Synchronization

/// The first handler of a connection: it keeps the connection in its listener's registry, enforces the idle,
/// header, body and write timeouts, and stops reading while a response is still being written.
///
/// The request handler further down the pipeline reports each request's stages
/// (``requestHeadReceived(expectingBody:)``, ``requestReceived()``, ``responseStarted()``, ``responseFlushed()``,
/// ``responseProgressed()``, ``responseFinished()``); raw bytes arriving after an idle period start the header
/// timeout. A timer is scheduled only when a deadline earlier than the pending one appears, so a request answered at
/// once schedules none and reads the clock once.
final class HTTPConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    /// What the connection waits for on its inbound side.
    private enum Stage {
        /// The next request (the idle timeout runs).
        case idle
        /// The rest of a request head (the header timeout runs).
        case readingHead
        /// The rest of a request body (the body timeout runs).
        case readingBody
        /// The response to a complete request (no timeout: the request's own deadline applies).
        case processing
    }

    private let limits: ConnectionLimits
    private let idleTimeout: TimeAmount
    private let headerTimeout: TimeAmount
    private let bodyTimeout: TimeAmount
    private let writeTimeout: TimeAmount
    private let registry: ConnectionRegistry
    private var slot: ConnectionSlot?
    private var context: ChannelHandlerContext?
    private var stage = Stage.readingHead
    private var stageStart = NIODeadline.now()
    private var unfinishedWrites = 0
    private var lastWriteProgress = NIODeadline.now()
    private var readHeld = false
    private var stopped = false
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?

    init(limits: ConnectionLimits, registry: ConnectionRegistry) {
        self.limits = limits
        self.registry = registry
        idleTimeout = TimeAmount(limits.idleTimeout)
        headerTimeout = TimeAmount(limits.headerTimeout)
        bodyTimeout = TimeAmount(limits.bodyTimeout)
        writeTimeout = TimeAmount(limits.writeTimeout)
    }

    /// Registers the connection, closing the listener's longest-idle connection when at the limit; false when the
    /// listener is full of busy connections and this one must be refused.
    func admit(_ channel: any Channel) -> Bool {
        let slot = ConnectionSlot(channel: channel, idleSince: stageStart)
        guard registry.admit(slot) else { return false }
        self.slot = slot
        return true
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stop()
    }

    func channelActive(context: ChannelHandlerContext) {
        stageStart = .now()
        armTimer()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stop()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let startsHead = stage == .idle && unfinishedWrites == 0
        if startsHead { stage = .readingHead }
        context.fireChannelRead(data)
        // Read the clock only for a head that did not arrive whole.
        if startsHead && stage == .readingHead { stageStart = .now() }
        armTimer()
    }

    func read(context: ChannelHandlerContext) {
        if unfinishedWrites > 0 {
            readHeld = true
        } else {
            context.read()
        }
    }

    /// A request head arrived; its body, if it has one, is still to come.
    func requestHeadReceived(expectingBody: Bool) {
        let wasBusy = isBusy
        stage = expectingBody ? .readingBody : .processing
        if expectingBody { stageStart = .now() }
        updateSlot(wasBusy: wasBusy)
    }

    /// The whole request arrived and went to the responder.
    func requestReceived() {
        stage = .processing
    }

    /// A response is being written: the request is answered, and reads stop until the response is written.
    func responseStarted() {
        let wasBusy = isBusy
        stage = .idle
        unfinishedWrites += 1
        updateSlot(wasBusy: wasBusy)
    }

    /// A response was handed to the socket: the write timeout runs if part of it is still unwritten.
    func responseFlushed() {
        if unfinishedWrites > 0 { lastWriteProgress = .now() }
        armTimer()
    }

    /// Part of a response reached the socket.
    func responseProgressed() {
        lastWriteProgress = .now()
    }

    /// A response was written (or failed because the connection closed): reads resume once none is left.
    func responseFinished() {
        let wasBusy = isBusy
        unfinishedWrites -= 1
        guard unfinishedWrites == 0 else { return }
        let now = NIODeadline.now()
        if stage == .idle { stageStart = now }
        updateSlot(wasBusy: wasBusy, now: now)
        armTimer()
        if readHeld, let context {
            readHeld = false
            context.read()
        }
    }

    /// Schedules the timer if the current deadline comes before the pending one. Called after each read and write.
    private func armTimer() {
        guard !stopped, let deadline, let context else { return }
        if let timerDeadline, timerDeadline <= deadline { return }
        timer?.cancel()
        timerDeadline = deadline
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            timer = nil
            timerDeadline = nil
            expire()
        }
    }

    /// Whether a request is in progress: the connection is then not the one closed to make room.
    private var isBusy: Bool {
        unfinishedWrites > 0 || stage == .readingBody || stage == .processing
    }

    /// When the current stage times out; nil when no timeout runs.
    private var deadline: NIODeadline? {
        if unfinishedWrites > 0 { return lastWriteProgress + writeTimeout }
        switch stage {
        case .idle: return stageStart + idleTimeout
        case .readingHead: return stageStart + headerTimeout
        case .readingBody: return stageStart + bodyTimeout
        case .processing: return nil
        }
    }

    private func updateSlot(wasBusy: Bool, now: @autoclosure () -> NIODeadline = .now()) {
        let busy = isBusy
        guard busy != wasBusy, let slot else { return }
        slot.idleSince.store(busy ? ConnectionSlot.busy : now().uptimeNanoseconds, ordering: .relaxed)
    }

    /// The timer fired: closes the connection if its deadline passed, otherwise waits for the new deadline.
    private func expire() {
        guard let deadline, let context else { return }
        guard deadline <= .now() else {
            armTimer()
            return
        }
        if unfinishedWrites > 0 {
            // A client that stopped reading gets a reset, which also frees what the kernel still holds for it.
            _ = (context.channel as? any SocketOptionProvider)?.setSoLinger(linger(l_onoff: 1, l_linger: 0))
            context.close(promise: nil)
            return
        }
        if stage == .readingBody {
            // The request handler answers 408 and closes; a connection it cannot answer on is closed here.
            context.fireUserInboundEventTriggered(HTTPTimeoutEvent.body(limits.bodyTimeout))
            if stage != .readingBody || unfinishedWrites > 0 { return }
        }
        context.close(promise: nil)
    }

    private func stop() {
        stopped = true
        timer?.cancel()
        timer = nil
        timerDeadline = nil
        if let slot {
            registry.remove(slot)
            self.slot = nil
        }
    }
}

/// Sent down a connection's pipeline when a request body did not arrive in time.
enum HTTPTimeoutEvent {
    /// The body timeout (its length) passed.
    case body(Duration)
}
