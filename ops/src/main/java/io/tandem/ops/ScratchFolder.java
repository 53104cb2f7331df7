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
  private final Interrupted interrupted;

  private ScratchFolder(Path path) {
    this.path = path;
    this.interrupted = removedIfInterrupted(path);
  }

  /** A new empty folder whose name starts with {@code prefix}, removed on Ctrl-C or SIGTERM too. */
  static ScratchFolder create(String prefix) throws IOException {
    return new ScratchFolder(Files.createTempDirectory(prefix));
  }

  Path path() {
    return path;
  }

  @Override
  public void close() {
    interrupted.close();
    removeTree(path);
  }

  /**
   * Removes {@code dir} should the JVM be stopped (Ctrl-C, SIGTERM: its shutdown hooks run, a
   * command's {@code finally} does not) before the returned handle is closed: a command's own
   * folder left half-written, or its scratch (tester46c: each interrupted make-checkpoint left 11 MB
   * of tokenizer in /tmp, and a cut-short checkpoint).
   */
  static Interrupted removedIfInterrupted(Path dir) {
    Thread hook = new Thread(() -> {
      removing = true;
      removeTree(dir);
    }, "remove " + dir.getFileName());
    Runtime.getRuntime().addShutdownHook(hook);
    return new Interrupted(hook);
  }

  /** Set once a stopping JVM removes a folder of {@link #removedIfInterrupted}, before it does. */
  private static volatile boolean removing;

  /**
   * Whether the JVM is stopping and has begun to remove a command's folders: a failure of the
   * command after that is the removal's (its files gone under it), not one to report as such.
   */
  static boolean removingOnStop() {
    return removing;
  }

  /** The hook of {@link #removedIfInterrupted}: closed when the command got through. */
  static final class Interrupted implements AutoCloseable {
    private final Thread hook;

    private Interrupted(Thread hook) {
      this.hook = hook;
    }

    @Override
    public void close() {
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException shuttingDown) {
        // The hook runs, or has run: the folder goes either way.
      }
    }
  }

  /**
   * Deletes {@code dir} and what is in it, as far as it can. A file that cannot be deleted is left:
   * the command's own result or error says more than a failed clean-up would.
   */
  static void removeTree(Path dir) {
    // Again while a command still writes into it (a shutdown hook runs beside the command's thread, which may create
    // the next shard after a walk: tester46f); once the folder is gone, nothing more can be written there.
    for (int attempt = 0; attempt < 100 && Files.exists(dir); attempt++) {
      try (Stream<Path> all = Files.walk(dir)) {
        for (Path p : all.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
      } catch (IOException | UncheckedIOException notYet) {
        // A file created meanwhile: walk again.
      }
    }
  }
}
