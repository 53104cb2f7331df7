package io.tandem.ops.cluster;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.turbo.TurboFilter;
import ch.qos.logback.core.spi.FilterReply;
import org.slf4j.Marker;

/**
 * Drops the WARN Akka's Artery logs for each of its outbound streams to a node that stopped,
 * {@code [outbound connection to [akka://tandem@HOST:PORT], control stream] Upstream failed, cause:
 * StreamTcpException: The connection has been aborted}: it comes on every clean stop of another node
 * (after it left the cluster), where nothing is wrong, and Akka's own issue says it should not be a
 * warning (akka/akka-core#27602). A node that crashes is reported all the same, by Akka's
 * unreachability and association warnings and by Tandem's own lines about the node and its workers.
 * Installed from {@code logback.xml}.
 */
public final class PeerStoppedNoise extends TurboFilter {
  /** Where Akka's stream stages log (akka.stream.Materializer). */
  static final String LOGGER = "akka.stream.Materializer";

  @Override
  public FilterReply decide(Marker marker, Logger logger, Level level, String format, Object[] params, Throwable t) {
    if (format == null || level != Level.WARN || !LOGGER.equals(logger.getName())) return FilterReply.NEUTRAL;
    return format.startsWith("[outbound connection to [") && format.endsWith("The connection has been aborted")
        ? FilterReply.DENY : FilterReply.NEUTRAL;
  }
}
