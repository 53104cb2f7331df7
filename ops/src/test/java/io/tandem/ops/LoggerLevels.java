package io.tandem.ops;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import java.util.List;
import org.slf4j.LoggerFactory;

/**
 * The levels of the loggers a command may turn off ({@code generate --quiet} turns off the root,
 * {@code io.tandem} and {@code akka}), kept so that a command run in-process leaves the test JVM's
 * logging as it found it, for the tests that run after it and read logs.
 */
final class LoggerLevels implements AutoCloseable {
  private static final List<String> NAMES = List.of(Logger.ROOT_LOGGER_NAME, "io.tandem", "akka", "tandem.http.requests");
  private final List<Level> levels = NAMES.stream().map(n -> logger(n).getLevel()).toList();

  static LoggerLevels kept() {
    return new LoggerLevels();
  }

  private static Logger logger(String name) {
    return (Logger) LoggerFactory.getLogger(name);
  }

  @Override
  public void close() {
    for (int i = 0; i < NAMES.size(); i++) logger(NAMES.get(i)).setLevel(levels.get(i));
  }
}
