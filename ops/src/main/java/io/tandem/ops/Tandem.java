package io.tandem.ops;

import java.io.PrintWriter;
import java.util.List;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code tandem} launcher: every command of the project behind one entry point. */
@Command(
    name = "tandem",
    mixinStandardHelpOptions = true,
    version = "tandem " + io.tandem.protocol.TandemVersion.NUMBER,
    description = "Speculative Thinking inference server: a small reasoning model writes, a large model takes over at reflection points.",
    subcommands = {
      GenerateCommand.class,
      ServeCommand.class,
      SimulateCommand.class,
      BenchCommand.class,
      MakeCheckpointCommand.class,
      TrainDemoCommand.class,
      EvalCommand.class,
      HelpCommand.class
    })
public final class Tandem implements java.util.concurrent.Callable<Integer> {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() {
    return missingSubcommand(spec);
  }

  /**
   * A command that only groups others, run without one: its usage on stderr and exit status 2,
   * picocli's convention for a missing subcommand.
   */
  static int missingSubcommand(CommandLine.Model.CommandSpec spec) {
    CommandLine cl = spec.commandLine();
    cl.getErr().println(commandName(cl) + ": give a command (one of " + String.join(", ", cl.getSubcommands().keySet()) + ")");
    cl.usage(cl.getErr());
    cl.getErr().flush();
    return 2;
  }

  /** The environment variables that set a logger's level, with the logger and its level when unset. */
  private static final Map<String, Map.Entry<String, String>> LOG_LEVEL_VARIABLES =
      Map.of("TANDEM_LOG", Map.entry("io.tandem", "INFO"), "TANDEM_AKKA_LOG", Map.entry("akka", "WARN"),
          "TANDEM_REQUEST_LOG", Map.entry("tandem.http.requests", "INFO"));

  private static final List<String> LOG_LEVELS = List.of("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF");

  /**
   * A log level variable that is not a level (logback would take it silently) gets a one-line
   * warning, and its logger its default level.
   *
   * @return the warnings, one per such variable
   */
  static List<String> checkLogLevels(Map<String, String> env) {
    List<String> warnings = new java.util.ArrayList<>();
    LOG_LEVEL_VARIABLES.forEach((variable, logger) -> {
      String value = env.get(variable);
      if (value == null || LOG_LEVELS.contains(value.strip().toUpperCase(java.util.Locale.ROOT))) return;
      warnings.add("tandem: " + variable + "=" + value + " is not a log level (give " + String.join(", ", LOG_LEVELS)
          + "); logging at " + logger.getValue());
      ((ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(logger.getKey()))
          .setLevel(ch.qos.logback.classic.Level.toLevel(logger.getValue()));
    });
    return warnings;
  }

  /**
   * JNA's logger, held so that its level stays set (java.util.logging holds loggers weakly). JNA, which DJL uses to probe
   * for CUDA, warned through java.util.logging with 30 lines of stack trace where it could not unpack its own library
   * into the temporary folder, and nothing needs it on a CPU (tester59c).
   */
  private static final java.util.logging.Logger JNA = java.util.logging.Logger.getLogger("com.sun.jna");

  public static void main(String[] args) {
    System.setProperty("ai.djl.offline", "true");
    JNA.setLevel(java.util.logging.Level.OFF);
    // Logging started here, on this thread, before any command: a signal's shutdown hook that logs or silences logs while
    // SLF4J starts on another thread got its stand-in loggers, a ClassCastException and exit status 1 (tester49f).
    org.slf4j.LoggerFactory.getILoggerFactory();
    for (String w : checkLogLevels(System.getenv())) System.err.println(w);
    int code = commandLine().execute(args);
    if (code != 0) {
      // A failed command has nothing left to finish, but a model may still be loading on a worker
      // thread (and JVM shutdown would wait for it and print its progress after the error line):
      // stop at once, so that the error is the last thing on the screen. Not while libtorch loads,
      // though: an exit then crashes in its native code (Torch.awaitLoading), which takes a second or two.
      io.tandem.inference.hf.Torch.awaitLoading(java.time.Duration.ofSeconds(30));
      System.out.flush();
      System.err.flush();
      Runtime.getRuntime().halt(code);
    }
    System.exit(code);
  }

  /**
   * The command line with Tandem's error handling: one line on stderr saying what is wrong and
   * what to do, exit status 2 for a mistake in what the command was given (what picocli's parser
   * refuses, a {@link UsageError} a command finds in a parsed value, a setting that cannot be used),
   * 1 for a failure while running.
   */
  /**
   * A list option given only commas ({@code --modes ,}) is split by picocli into no values at all,
   * which would run nothing and exit 0 (tester44a: an empty table, a blank chart); an empty string
   * is refused by each option's own check. A value listed twice ({@code --sessions 2,2}) would run a
   * sweep's point twice, or a role, mode or seed node twice, where each is meant once (tester44d).
   *
   * @throws CommandLine.ParameterException naming the option, the value and what it takes
   */
  private static void refuseEmptyOrRepeatedLists(CommandLine.ParseResult parsed) {
    for (CommandLine.ParseResult r = parsed; r != null; r = r.hasSubcommand() ? r.subcommand() : null)
      for (CommandLine.Model.OptionSpec o : r.matchedOptions()) {
        if (o.splitRegex().isEmpty()) continue;
        // picocli adds a second --modes to the first: said once, as a scalar option given twice is (tester46c).
        long times = r.originalArgs().stream().filter(a -> java.util.Arrays.stream(o.names())
            .anyMatch(n -> a.equals(n) || a.startsWith(n + "="))).count();
        if (times > 1)
          throw new CommandLine.ParameterException(r.commandSpec().commandLine(), o.longestName() + " is given " + (times == 2
              ? "twice" : times + " times") + "; give it once, its values separated by commas (" + o.longestName() + " "
              + String.join(",", o.originalStringValues()) + ")");
        String given = String.join(" ", o.originalStringValues());
        if (isEmpty(o.getValue()))
          throw new CommandLine.ParameterException(r.commandSpec().commandLine(), o.longestName() + " '" + given
              + "' lists nothing; give one or more values, separated by commas");
        // picocli drops what follows a last comma, where one before a first is an empty value refused: both are refused
        // (tester58h: --roles 'small,' was taken, --roles ',small' refused).
        if (o.originalStringValues().stream().anyMatch(v -> v.strip().endsWith(",")))
          throw new CommandLine.ParameterException(r.commandSpec().commandLine(), o.longestName() + " '" + given
              + "' ends with a comma; remove it, or give the value after it");
        java.util.Set<Object> seen = new java.util.HashSet<>();
        for (Object v : values(o.getValue())) {
          // Spaces around a comma are no part of a value (tester58d: 'small, small' was taken, 'small,small' refused).
          Object value = v instanceof String text ? text.strip() : v;
          // An empty one is the option's own to name (tester58f: ' , ' was said to list "  twice").
          if (!"".equals(value) && !seen.add(value))
            throw new CommandLine.ParameterException(r.commandSpec().commandLine(), o.longestName() + " '" + given
                + "' lists " + value + " twice; give each value once");
        }
      }
  }

  /** A list or array option's values (an {@code int[]} boxed), in order. */
  private static List<Object> values(Object value) {
    if (value instanceof java.util.Collection<?> values) return List.copyOf(values);
    List<Object> values = new java.util.ArrayList<>();
    if (value != null && value.getClass().isArray())
      for (int i = 0; i < java.lang.reflect.Array.getLength(value); i++) values.add(java.lang.reflect.Array.get(value, i));
    return values;
  }

  /** Whether a list or array option's value holds nothing. */
  private static boolean isEmpty(Object value) {
    if (value instanceof java.util.Collection<?> values) return values.isEmpty();
    return value != null && value.getClass().isArray() && java.lang.reflect.Array.getLength(value) == 0;
  }

  /**
   * {@code code}, or 1 when what the command printed on stdout could not be written (a full disk, a
   * reader gone): Java's {@code PrintStream} swallows the error, and a script redirecting results to
   * a full disk read exit 0 and an empty file (tester56d: generate, eval --json, bench --json). Help
   * and version text are left out: a pager or {@code head} that stops reading is no failure.
   */
  private static int outputWritten(int code, CommandLine cmd) {
    if (code != 0 || !System.out.checkError()) return code;
    cmd.getErr().println(commandName(cmd) + ": its output could not be written to stdout (a full disk, or a reader that"
        + " stopped reading), so what it printed may not be whole");
    cmd.getErr().flush();
    return CommandLine.ExitCode.SOFTWARE;
  }

  public static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new Tandem());
    // picocli reads an argument that begins with @ as a file of arguments (@-files), which neither vLLM's CLI nor
    // Tandem's help offers: a --prompt "@notes" was the file's text, or a quoting hint that did not apply (tester50d).
    cl.setExpandAtFiles(false);
    HelpText.install(cl);
    // Each subcommand's --help lists -V/--version (the standard help options): it says the version
    // too, instead of nothing.
    setVersion(cl, cl.getCommandSpec().version());
    // An empty path (a flag given an unset shell variable, --config "") would be read as the folder
    // the command runs in; it is a mistake, said as one.
    cl.registerConverter(java.nio.file.Path.class, value -> {
      if (value.isBlank()) throw new CommandLine.TypeConversionException("the path is empty; give a file or folder");
      return java.nio.file.Path.of(value);
    });
    // `tandem --help serve` asks for serve's help, as `git --help commit` gives commit's: picocli would
    // print the first command's that asked, the top level's.
    cl.setExecutionStrategy(parsed -> {
      CommandLine.ParseResult last = parsed;
      boolean help = parsed.isUsageHelpRequested();
      while (last.hasSubcommand()) {
        last = last.subcommand();
        help |= last.isUsageHelpRequested();
      }
      // tandem --help srve: the mistake, rather than the top level's help as if nothing were wrong.
      if (help && !last.unmatched().isEmpty())
        throw new CommandLine.UnmatchedArgumentException(last.commandSpec().commandLine(), last.unmatched());
      if (!help) refuseEmptyOrRepeatedLists(parsed);
      if (!help && last.commandSpec().userObject() instanceof Interruptible said) {
        CommandLine.ParseResult run = parsed;
        int code;
        try {
          code = Interruptible.saying(commandName(last.commandSpec().commandLine()), said,
              () -> new CommandLine.RunLast().execute(run));
        } catch (CommandLine.ExecutionException | CommandLine.ParameterException e) {
          throw e;
        } catch (Exception e) {
          throw new CommandLine.ExecutionException(last.commandSpec().commandLine(), e.getMessage(), e);
        }
        return outputWritten(code, last.commandSpec().commandLine());
      }
      if (!help && !last.isVersionHelpRequested() && !parsed.isVersionHelpRequested()
          && !(last.commandSpec().userObject() instanceof HelpCommand))
        return outputWritten(new CommandLine.RunLast().execute(parsed), last.commandSpec().commandLine());
      if (!help || !parsed.hasSubcommand()) return new CommandLine.RunLast().execute(parsed);
      CommandLine asked = last.commandSpec().commandLine();
      asked.usage(asked.getOut());
      return CommandLine.ExitCode.OK;
    });
    cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
      // Stopped by a signal while it wrote: its folders were taken away under it, which is all that failed.
      if (ScratchFolder.removingOnStop()) {
        cmd.getErr().println(commandName(cmd) + ": interrupted; what it had written so far is removed");
        cmd.getErr().flush();
        return 130;
      }
      // A setting's value, an engine spec's parameter, a YAML value: any may be a key written in the wrong place (tester51i).
      cmd.getErr().println(commandName(cmd) + ": " + io.tandem.protocol.text.Secrets.redact(message(ex)));
      cmd.getErr().flush();
      return givenWrong(ex) ? CommandLine.ExitCode.USAGE : CommandLine.ExitCode.SOFTWARE;
    });
    cl.setParameterExceptionHandler((ex, args) -> {
      PrintWriter err = ex.getCommandLine().getErr();
      err.println(parameterError(ex, List.of(args)));
      err.flush();
      return CommandLine.ExitCode.USAGE;
    });
    return cl;
  }

  /** Gives every subcommand of {@code cl}, at any depth, {@code version}. */
  private static void setVersion(CommandLine cl, String[] version) {
    for (CommandLine sub : cl.getSubcommands().values()) {
      sub.getCommandSpec().version(version);
      setVersion(sub, version);
    }
  }

  /** {@code tandem bench model} for that subcommand. */
  static String commandName(CommandLine cmd) {
    return cmd.getCommandSpec().qualifiedName();
  }

  /**
   * A command-line mistake in one line: an unknown option or command with a suggestion ("did you
   * mean --port?"), anything else with picocli's message; both point to {@code --help}.
   */
  static String parameterError(CommandLine.ParameterException ex, List<String> args) {
    // An argument that looks like a key (given without --api-key, after a misspelt option, or beginning with '-', which
    // picocli takes for an option) is not repeated: the message goes to logs (tester51f).
    return io.tandem.protocol.text.Secrets.redact(commandLineMistake(ex, args));
  }

  /** Whether {@code key} is a setting of the launcher's configuration (reference.conf and application.conf). */
  private static boolean knownSetting(String key) {
    try {
      return ModelOptions.baseConfig().hasPath(key);
    } catch (com.typesafe.config.ConfigException e) {
      return false;
    }
  }

  private static String commandLineMistake(CommandLine.ParameterException ex, List<String> args) {
    CommandLine cmd = ex.getCommandLine();
    String name = commandName(cmd);
    String help = "see " + name + " --help";
    // A required option misspelt (bench model --modle DIR) is the misspelling, not the option missing, which picocli says
    // first: the user believes they gave it (tester56d).
    if (ex instanceof CommandLine.MissingParameterException) {
      // An option's name with one dash too (-shape: tester56f), not a negative number given as a value.
      List<String> unknown = args.stream().filter(a -> a.startsWith("--") && !a.equals("--") || a.matches("-[A-Za-z][\\w-]+.*"))
          .filter(a -> cmd.getCommandSpec().findOption(a.split("=", 2)[0]) == null).toList();
      if (!unknown.isEmpty()) return commandLineMistake(new CommandLine.UnmatchedArgumentException(cmd, unknown), args);
    }
    if (ex instanceof CommandLine.UnmatchedArgumentException u && !u.getUnmatched().isEmpty()) {
      // A misspelt command comes before its options (tandem serv --port 1): the command is the mistake.
      String head = u.getUnmatched().get(0);
      String first = !head.startsWith("-") && !cmd.getSubcommands().isEmpty() ? head
          : u.getUnmatched().stream().filter(a -> a.startsWith("-")).findFirst().orElse(head);
      boolean option = first.startsWith("-");
      String what = option ? "Unknown option: '" + first + "'"
          : cmd.getSubcommands().isEmpty() ? "Unexpected argument: '" + first + "'"
          : "Unknown command: '" + first + "'";
      List<String> known = option
          ? cmd.getCommandSpec().options().stream().flatMap(o -> java.util.Arrays.stream(o.names())).toList()
          : List.copyOf(cmd.getSubcommands().keySet());
      // vLLM's own options (vllm serve --dtype ...): where their meaning is here, not a near spelling.
      String flag = first.split("=", 2)[0];
      // --modes (eval's) on a command without modes of its own is the mode's question too (tester46b: serve's hint was --roles).
      if (flag.equals("--modes") && cmd.getCommandSpec().findOption("--mode") == null) flag = "--mode";
      String vllm = option && cmd.getCommandSpec().findOption("--small") != null ? VLLM_OPTIONS.get(flag) : null;
      // The default mode is a server's setting: eval's --mode is its --modes, and bench serve runs speculative sessions only
      // (tester56d: both were told of tandem.http.default-mode).
      if (flag.equals("--mode") && cmd.getCommandSpec().findOption("--port") == null) vllm = null;
      if (vllm != null) return name + ": " + what + "; " + vllm + (vllm.contains("the setting ") && !vllm.contains("TANDEM_JAVA_OPTS")
          ? " (settings are given as TANDEM_JAVA_OPTS=\"-DKEY=VALUE\" ./tandem " + cmd.getCommandName() + " ...; " + help + ")"
          : " (" + help + ")");
      // A JVM system property given as an argument, as java takes it (tester59c: no hint for ./tandem serve -Dtandem.http.port=1).
      if (option && first.startsWith("-D") && first.length() > 2) {
        // A setting that is an option of the command's (tester59h: -Dtandem.served-model-name=... for --served-model-name).
        String key = first.substring(2).split("=", 2)[0];
        String asOption = "--" + key.substring(key.lastIndexOf('.') + 1);
        // Only tandem.NAME: a longer key's last part may name another option (tester59i: tandem.cluster.host, --host).
        if (key.matches("tandem\\.[^.]+") && !knownSetting(key) && cmd.getCommandSpec().findOption(asOption) != null)
          return name + ": " + what + "; did you mean the option " + asOption + "? (" + help + ")";
        // A value with a space is quoted inside, as the launcher splits TANDEM_JAVA_OPTS as a shell does (tester59g).
        return name + ": " + what + "; a -D option is the JVM's: give it in TANDEM_JAVA_OPTS (TANDEM_JAVA_OPTS=\""
            + (first.matches(".*\\s.*") ? "'" + first + "'" : first) + "\" ./" + name + " ...) (" + help + ")";
      }
      // A port written alone (tandem serve 8000).
      if (!option && first.matches("[0-9]{1,5}") && cmd.getCommandSpec().findOption("--port") != null)
        return name + ": " + what + "; did you mean --port " + first + "? (" + help + ")";
      // An option after "--" (tandem serve -- --port 1), which picocli then takes as an argument.
      if (option && known.contains(first.split("=", 2)[0]) && args.contains("--"))
        return name + ": '" + first + "' came after '--', after which nothing is read as an option: remove the '--' (" + help + ")";
      List<String> suggestions = closest(first.split("=", 2)[0], known);
      // An option written as a command (tandem version): the option of that name.
      if (!option && cmd.getCommandSpec().findOption("--" + first) != null) suggestions = List.of("--" + first);
      // picocli's own suggestions: options sharing the first two letters, commands by similarity.
      if (suggestions.isEmpty() && first.equals(u.getUnmatched().get(0))) suggestions = u.getSuggestions();
      String hint = suggestions.isEmpty() ? "" : "; did you mean " + String.join(" or ", suggestions) + "?";
      if (suggestions.isEmpty() && option) hint = optionOfASubcommand(cmd, first.split("=", 2)[0], args);
      CommandLine.Model.OptionSpec prompt = cmd.getCommandSpec().findOption("--prompt");
      // A model folder given as vLLM takes one (vllm serve MODEL), or a Hub id (tester50d: no hint for Qwen/Qwen2.5-0.5B-Instruct).
      if (suggestions.isEmpty() && !option && cmd.getCommandSpec().findOption("--small") != null
          && (isFolder(first) || first.matches("[A-Za-z0-9][\\w.-]*/[\\w.-]+")))
        hint = "; models are given with --small and --large (" + name + " --small DIR --large DIR)" + (isFolder(first) ? ""
            : ", each a checkpoint folder: Tandem downloads nothing (for a Hugging Face Hub id, download it first, e.g."
                + " huggingface-cli download " + first + " --local-dir DIR)");
      else if (suggestions.isEmpty() && !option && cmd.getSubcommands().isEmpty() && prompt != null)
        // Given already: the rest of an unquoted prompt (--prompt Compute 40 + 85).
        hint = prompt.getValue() != null ? "; a prompt of several words is one argument: quote it (" + name
            + " --prompt \"" + io.tandem.protocol.text.Clipped.of(prompt.getValue() + " " + first) + " ...\")"
            : "; give the prompt with --prompt (" + name + " --prompt \"...\")";
      return name + ": " + what + hint + " (" + help + ")";
    }
    // picocli's "option '--prompt' (<prompt>) should be specified only once": which value would count is the question.
    if (ex instanceof CommandLine.OverwrittenOptionException o && o.getOverwritten() instanceof CommandLine.Model.OptionSpec spec) {
      // A negatable switch by the forms written (tester56d: --no-stagger twice was named --stagger).
      String negated = "--no-" + spec.longestName().substring(2);
      if (spec.negatable() && spec.longestName().startsWith("--") && args.stream().anyMatch(a -> a.split("=", 2)[0].equals(negated))) {
        boolean both = args.stream().anyMatch(a -> a.split("=", 2)[0].equals(spec.longestName()));
        return name + ": " + (both ? spec.longestName() + " and " + negated + " are both given; give one of them"
            : negated + " is given twice; give it once") + " (" + help + ")";
      }
      return name + ": " + spec.longestName() + " is given twice; give it once" + (spec.arity().max() == 0 ? ""
          : " (it takes one value" + (spec.longestName().equals("--api-keys") ? ": one keys file, which may list every key" : "")
          + ")") + " (" + help + ")";
    }
    // picocli names Java's types ("'abc' is not a long"): a number, as the user thinks of it; digits
    // beyond the type's range are a whole number too big, not "not a whole number" (tester44a).
    java.util.regex.Matcher tooBig = java.util.regex.Pattern.compile("^(.*)'([-+]?\\d+)' is not an? (int|long|java\\.lang\\.(Integer|Long))$")
        .matcher(oneLine(ex.getMessage()));
    if (tooBig.matches()) {
      // The option's own range is its check's to say (--port: 1-65535), after conversion: not the Java type's.
      return name + ": " + tooBig.group(1) + "'" + tooBig.group(2) + "' is too " + (tooBig.group(2).startsWith("-") ? "small" : "large")
          + " a number for this option (" + help + " for the values it takes)";
    }
    String message = oneLine(ex.getMessage()).replaceAll("' is not an? (long|int|short|byte|java\\.lang\\.(Long|Integer))$",
        "' is not a whole number").replaceAll("' is not an? (double|float|java\\.lang\\.(Double|Float))$", "' is not a number");
    return name + ": " + message + " (" + help + ")";
  }

  private static final String ONE_DEVICE = "each model runs on one device (--device); more large workers, on more nodes of"
      + " a cluster, share the sessions instead";
  private static final String SPECULATIVE_DECODING = "that is vLLM's speculative decoding (a draft model proposes tokens the"
      + " target verifies); Tandem's speculative thinking pairs the models given with --small and --large, and the paper's"
      + " settings are a --config FILE.yaml";
  private static final String LOG_LEVEL = "that is vLLM's option: the log level is the environment variable TANDEM_LOG"
      + " (TANDEM_LOG=DEBUG, INFO or WARN)";
  private static final String DOWNLOADS_NOTHING = "that is vLLM's option: Tandem downloads nothing; give --small and --large"
      + " the folder of a downloaded checkpoint (huggingface-cli download ID --revision R --local-dir DIR)";

  /** vLLM's options a serving command does not have, and what stands for each here. */
  private static final Map<String, String> VLLM_OPTIONS = Map.ofEntries(
      Map.entry("-tp", "that is vLLM's option (--tensor-parallel-size): " + ONE_DEVICE),
      Map.entry("-pp", "that is vLLM's option (--pipeline-parallel-size): " + ONE_DEVICE),
      Map.entry("--pipeline-parallel-size", "that is vLLM's option: " + ONE_DEVICE),
      Map.entry("--tokenizer", "that is vLLM's option: each model's tokenizer is its folder's tokenizer.json (an engine's:"
          + " tokenizer=DIR in its openai: spec)"),
      Map.entry("--speculative-model", SPECULATIVE_DECODING),
      Map.entry("--num-speculative-tokens", SPECULATIVE_DECODING),
      Map.entry("--speculative-config", SPECULATIVE_DECODING),
      Map.entry("--chat-template", "that is vLLM's option: each model renders messages with its own chat template, its"
          + " tokenizer_config.json's"),
      Map.entry("--log-level", LOG_LEVEL),
      Map.entry("--uvicorn-log-level", LOG_LEVEL),
      Map.entry("--download-dir", DOWNLOADS_NOTHING),
      Map.entry("--revision", DOWNLOADS_NOTHING),
      Map.entry("--trust-remote-code", "that is vLLM's option: Tandem runs no model code of a checkpoint's; it runs its own"
          + " Qwen2, Qwen3 and Llama code"),
      Map.entry("--quantization", "that is vLLM's option: weights are held as the setting tandem.small.precision or"
          + " tandem.large.precision says (float32 or float16); quantized checkpoints are not read"),
      Map.entry("--kv-cache-dtype", "that is vLLM's option: the KV cache is held in the model's precision, the setting"
          + " tandem.small.precision or tandem.large.precision (float32 or float16)"),
      Map.entry("--enforce-eager", "that is vLLM's option: Tandem captures no CUDA graphs, so there is nothing to turn off"),
      Map.entry("--model", "that is vLLM's option: the models are given with --small and --large"),
      Map.entry("--mode", "the default mode is the setting tandem.http.default-mode (TANDEM_JAVA_OPTS=\"-Dtandem.http.default-mode=small\"),"
          + " and a request chooses its own with \"tandem\": {\"mode\": ...}"),
      Map.entry("--dtype", "that is vLLM's option: each model's is the setting tandem.small.precision or tandem.large.precision"
          + " (float32 or float16)"),
      Map.entry("--max-num-seqs", "that is vLLM's option: each worker's is the setting tandem.small.max-batch or tandem.large.max-batch"),
      Map.entry("--gpu-memory-utilization", "that is vLLM's option: each worker's KV cache budget is the setting"
          + " tandem.small.kv-cache-bytes or tandem.large.kv-cache-bytes"),
      Map.entry("--tensor-parallel-size", "that is vLLM's option: " + ONE_DEVICE),
      Map.entry("--max-num-batched-tokens", "that is vLLM's option: each worker's is the setting tandem.small.max-num-batched-tokens or"
          + " tandem.large.max-num-batched-tokens"),
      Map.entry("--enable-prefix-caching", "that is vLLM's option: prefix caching is on; how many finished sequences each worker keeps"
          + " is the setting tandem.small.prefix-cache-sequences or tandem.large.prefix-cache-sequences (0: none)"),
      Map.entry("--max-model-len", "that is vLLM's option: each model's context is its config.json's (max_position_embeddings,"
          + " or a smaller sliding_window), and a prompt and its max_tokens must fit it"));

  /** Whether {@code arg} names a folder (false for what is no path at all). */
  private static boolean isFolder(String arg) {
    try {
      return java.nio.file.Files.isDirectory(java.nio.file.Path.of(arg));
    } catch (java.nio.file.InvalidPathException e) {
      return false;
    }
  }

  /**
   * For an option given before the command that takes it ({@code tandem --port 8080 serve}): the
   * command written in {@code args} after it when that one takes it, else which commands below
   * {@code cmd} do, and that it goes after the command; empty when none does.
   */
  static String optionOfASubcommand(CommandLine cmd, String option, List<String> rest) {
    // The command written after it (tandem --small DIR serve), when it takes the option.
    CommandLine named = null;
    for (CommandLine c = cmd; ; ) {
      CommandLine next = null;
      for (String arg : rest) if (c.getSubcommands().containsKey(arg)) next = c.getSubcommands().get(arg);
      if (next == null) break;
      named = next;
      c = next;
    }
    if (named != null && named.getCommandSpec().findOption(option) != null)
      return "; it is an option of " + commandName(named) + ": give it after the command (" + commandName(named) + " "
          + option + " ...)";
    List<String> takers = new java.util.ArrayList<>();
    java.util.ArrayDeque<CommandLine> todo = new java.util.ArrayDeque<>(cmd.getSubcommands().values());
    while (!todo.isEmpty()) {
      CommandLine c = todo.poll();
      if (c.getCommandSpec().findOption(option) != null && !takers.contains(commandName(c))) takers.add(commandName(c));
      todo.addAll(c.getSubcommands().values());
    }
    if (takers.isEmpty()) return "";
    String shown = takers.size() > 3 ? String.join(", ", takers.subList(0, 3)) + ", ..." : String.join(", ", takers);
    return "; it is an option of " + shown + ": give it after the command (" + takers.get(0) + " " + option + " ...)";
  }

  /**
   * The names nearest to a mistyped one: at most two edits away (a letter added, dropped, changed,
   * or two neighbours swapped, as in {@code --prot}), and fewer than half its letters.
   */
  static List<String> closest(String typed, List<String> names) {
    int best = Math.min(2, (typed.replaceFirst("^-+", "").length() - 1) / 2);
    List<String> out = new java.util.ArrayList<>();
    for (String n : names) {
      int d = editDistance(typed, n);
      if (d > best) continue;
      if (d < best) out.clear();
      best = d;
      out.add(n);
    }
    return out;
  }

  /** Optimal string alignment distance: insertions, deletions, substitutions, adjacent swaps. */
  private static int editDistance(String a, String b) {
    int[][] d = new int[a.length() + 1][b.length() + 1];
    for (int i = 0; i <= a.length(); i++) d[i][0] = i;
    for (int j = 0; j <= b.length(); j++) d[0][j] = j;
    for (int i = 1; i <= a.length(); i++) {
      for (int j = 1; j <= b.length(); j++) {
        int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
        d[i][j] = Math.min(Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + cost);
        if (i > 1 && j > 1 && a.charAt(i - 1) == b.charAt(j - 2) && a.charAt(i - 2) == b.charAt(j - 1))
          d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
    return d[a.length()][b.length()];
  }

  /**
   * Whether {@code ex} is a mistake in what the command was given: a {@link UsageError}, or a
   * setting that cannot be used (unknown, not of its type, out of its range), as picocli answers a
   * mistake on the command line. A config file that cannot be parsed names no key: like a file that
   * is not there, it is not such a mistake.
   */
  static boolean givenWrong(Throwable ex) {
    Throwable t = telling(ex);
    // A setting read deep in a model's load (tandem.onednn) comes wrapped, with its words kept (tester56d: exit 1).
    for (Throwable c = ex; c != null; c = c.getCause())
      if (c instanceof io.tandem.protocol.config.InvalidConfigException i && i.key() != null && c.getMessage().equals(t.getMessage()))
        return true;
    return t instanceof UsageError || t instanceof io.tandem.protocol.config.InvalidConfigException c && c.key() != null
        || t instanceof com.typesafe.config.ConfigException.BadValue || t instanceof com.typesafe.config.ConfigException.WrongType;
  }

  /** The innermost exception of {@code ex} that says something: not a future's wrapper, not a message-less one. */
  private static Throwable telling(Throwable ex) {
    Throwable t = ex;
    while (t.getCause() != null && (t.getMessage() == null || t instanceof java.util.concurrent.CompletionException
        || t instanceof java.util.concurrent.ExecutionException)) {
      t = t.getCause();
    }
    return t;
  }

  /** What went wrong, from the innermost exception that says something. */
  static String message(Throwable ex) {
    Throwable t = telling(ex);
    if (t instanceof java.nio.file.NoSuchFileException f) return "no such file " + f.getFile();
    if (t instanceof java.nio.file.AccessDeniedException f) return "no permission to read or write " + f.getFile();
    // A setting read by its full path: the key, without Typesafe's "system properties: " or "application.conf @ ...: 12: ".
    if (t instanceof com.typesafe.config.ConfigException c) return io.tandem.protocol.config.ConfigSection.describe("", c);
    return oneLine(t.getMessage() == null ? t.toString() : t.getMessage());
  }

  /** Messages from libraries sometimes span lines; an error here is one line. */
  static String oneLine(String s) {
    return s.strip().replaceAll("\\s*\\R\\s*", " ");
  }
}
