package io.tandem.ops;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * A command's own folder under the system's temporary directory (the scripts and latency profiles
 * a scripted run writes), removed with what is in it when the command ends, however it ends.
 * Closing it in a {@code finally} (or try-with-resources) rather than {@link java.io.File#deleteOnExit}:
 * a failed command halts the JVM ({@link Tandem#main}), which runs no shutdown hook, and
 * {@code deleteOnExit} never removes a folder that still holds files. Each {@code tandem simulate}
 * left its folder behind before: six CI runs left 36 {@code tandem-simulate*} folders in /tmp.
 */
final class ScratchFolder implements AutoCloseable {

  private final Path path;

  private ScratchFolder(Path path) {
    this.path = path;
  }

  /** A new empty folder whose name starts with {@code prefix}. */
  static ScratchFolder create(String prefix) throws IOException {
    return new ScratchFolder(Files.createTempDirectory(prefix));
  }

  Path path() {
    return path;
  }

  @Override
  public void close() {
    removeTree(path);
  }

  /**
   * Deletes {@code dir} and what is in it, as far as it can. A file that cannot be deleted is left:
   * the command's own result or error says more than a failed clean-up would.
   */
  static void removeTree(Path dir) {
    if (!Files.exists(dir)) return;
    try (Stream<Path> all = Files.walk(dir)) {
      for (Path p : all.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
    } catch (IOException | UncheckedIOException ignored) {
      // Left as it is (see above).
    }
  }
}
