package io.tandem.ops;

/**
 * A command that says one line on stderr should it be stopped (Ctrl-C, SIGTERM) before it ends,
 * as {@code eval}, {@code simulate} and {@code train-demo} say theirs: {@code bench model}, {@code
 * bench serve}, {@code bench http}, {@code generate} and {@code make-checkpoint} ended with status
 * 130 and nothing said (tester49b).
 */
interface Interruptible {
  /** What stands once it was stopped, after {@code "tandem COMMAND: interrupted; "}. */
  String whenInterrupted();

  /** Whether stdout holds a line not yet ended: its text so far is followed by a newline before the line on stderr. */
  default boolean lineOpen() {
    return false;
  }

  /**
   * Stops the command's output to stdout: called once it was stopped, before its line is said, which
   * nothing may follow on stdout ("any text printed above is all it wrote"; tester57j: a piece of an
   * answer came after it, as the session ran on through the shutdown).
   */
  default void silence() {}

  /**
   * Whether stdout is a terminal: on Linux, what its file descriptor links to; elsewhere {@link
   * System#console}, which also asks stdin to be one (tester57i: {@code < /dev/null} on a terminal).
   */
  private static boolean stdoutIsATerminal() {
    try {
      String target = java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/self/fd/1")).toString();
      return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty");
    } catch (java.io.IOException | UnsupportedOperationException notLinux) {
      return System.console() != null;
    }
  }

  /**
   * Runs {@code run} with {@code command}'s line said should the JVM stop meanwhile (its shutdown
   * hooks run then, a {@code finally} does not); the logs are silenced after it, so that it is not
   * followed by an ActorSystem's stopping lines.
   */
  static int saying(String name, Interruptible command, java.util.concurrent.Callable<Integer> run) throws Exception {
    Thread hook = new Thread(() -> {
      command.silence();
      // On a terminal, the line would follow the answer's last word (tester57f: "7 +tandem generate: interrupted; ...").
      if (command.lineOpen() && stdoutIsATerminal()) System.out.println();
      System.out.flush();
      System.err.println(name + ": interrupted; " + command.whenInterrupted());
      System.err.flush();
      for (String logger : java.util.List.of("io.tandem", "akka"))
        if (org.slf4j.LoggerFactory.getLogger(logger) instanceof ch.qos.logback.classic.Logger l)
          l.setLevel(ch.qos.logback.classic.Level.OFF);
    }, "interrupted " + name);
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      return run.call();
    } finally {
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException stopping) {
        // Stopping now: the hook says so.
      }
    }
  }
}
