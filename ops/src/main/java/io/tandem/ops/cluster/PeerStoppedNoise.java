package io.tandem.ops.cluster;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.turbo.TurboFilter;
import ch.qos.logback.core.spi.FilterReply;
import org.slf4j.Marker;

/**
 * Drops three WARNs Akka's Artery logs on clean stops, where nothing is wrong:
 *
 * <ul>
 *   <li>for each of its outbound streams to a node that stopped, {@code [outbound connection to
 *       [akka://tandem@HOST:PORT], control stream] Upstream failed, cause: StreamTcpException: The
 *       connection has been aborted}, which Akka's own issue says should not be a warning
 *       (akka/akka-core#27602);
 *   <li>on a node that is stopping itself, for each outbound stream still open, {@code Outbound
 *       control stream to [akka://tandem@HOST:PORT] failed after shutdown.
 *       akka.remote.artery.Association$OutboundStreamStopQuarantinedSignal$: } (Akka logs it only
 *       once its own remoting has shut down);
 *   <li>on the nodes that see another removed, {@code Flush timeout, [-1] remaining}: Artery's flush
 *       of its messages to the removed node, before death watch tells of its actors, had not one
 *       acknowledgement from it (tester47a: a WARN at every worker's removal). One some of whose
 *       acknowledgements came is kept.
 * </ul>
 *
 * A node that crashes is reported all the same, by Akka's unreachability and association warnings
 * (a connection reset included) and by Tandem's own lines about the node and its workers. Installed
 * from {@code logback.xml}.
 */
public final class PeerStoppedNoise extends TurboFilter {
  /** Where Akka's stream stages log (akka.stream.Materializer). */
  static final String LOGGER = "akka.stream.Materializer";
  /** Where Artery logs the flush of its messages to a node that was removed, before death watch says so. */
  static final String FLUSH = "akka.remote.artery.FlushBeforeDeathWatchNotification";
  /** Where Artery logs about its connection to one other node. */
  static final String ASSOCIATION = "akka.remote.artery.Association";

  @Override
  public FilterReply decide(Marker marker, Logger logger, Level level, String format, Object[] params, Throwable t) {
    if (format == null || level != Level.WARN) return FilterReply.NEUTRAL;
    boolean peerStopped = LOGGER.equals(logger.getName()) && format.startsWith("[outbound connection to [")
        && format.endsWith("The connection has been aborted");
    boolean selfStopped = ASSOCIATION.equals(logger.getName()) && format.startsWith("Outbound ")
        && format.contains("] failed after shutdown. ");
    // -1: not one acknowledgement came (Akka's FlushBeforeDeathWatchNotification counts them from the first): the node
    // removed is gone; a flush some of whose acknowledgements came, then stopped, is kept.
    boolean flushToNodeGone = FLUSH.equals(logger.getName()) && format.equals("Flush timeout, [-1] remaining");
    return peerStopped || selfStopped || flushToNodeGone ? FilterReply.DENY : FilterReply.NEUTRAL;
  }
}
