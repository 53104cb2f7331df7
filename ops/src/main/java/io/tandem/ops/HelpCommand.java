package io.tandem.ops;

import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code tandem help [COMMAND...]}: the help of a command at any depth ({@code tandem help bench
 * http}), as {@code tandem bench http --help} prints it. picocli's own help command reads one level
 * only: {@code help bench http} printed bench's help, and a name past a command that has none
 * ({@code help eval extra}) was dropped without a word. An unknown name is a usage error naming the
 * commands there. {@code -h} after a name ({@code help bench -h}) still means that command's help.
 */
@Command(
    name = "help",
    version = "tandem " + io.tandem.protocol.TandemVersion.NUMBER,
    description = "Shows the help of a command, or of one of its subcommands: tandem help bench http.")
final class HelpCommand implements Callable<Integer> {

  // Not usageHelp: `help bench -h` means bench's help, which picocli's -h would replace with help's own.
  @Option(names = {"-h", "--help"}, description = "Show this help message and exit; after a COMMAND, that command's help.")
  boolean help;

  @Option(names = {"-V", "--version"}, versionHelp = true, description = "Print version information and exit.")
  boolean version;

  @Parameters(paramLabel = "COMMAND", arity = "0..*", description = "The command, then its subcommand, whose help to show.")
  List<String> names = List.of();

  // Not a picocli help command: those are parsed leniently, and `help --nope` printed the help (exit 0).
  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    CommandLine command = help && names.isEmpty() ? spec.commandLine() : spec.commandLine().getParent();
    for (String name : names) {
      CommandLine sub = command.getSubcommands().get(name);
      if (sub == null) {
        String known = command.getSubcommands().isEmpty() ? "it has no commands"
            : "its commands: " + String.join(", ", command.getSubcommands().keySet());
        // As a misspelt command is answered (tandem serv: did you mean serve?).
        List<String> near = Tandem.closest(name, List.copyOf(command.getSubcommands().keySet()));
        throw new UsageError("'" + name + "' is not a command of " + Tandem.commandName(command)
            + (near.isEmpty() ? "" : "; did you mean " + String.join(" or ", near) + "?") + " (" + known + ")");
      }
      command = sub;
    }
    PrintWriter out = spec.commandLine().getOut();
    command.usage(out, spec.commandLine().getColorScheme());
    out.flush();
    return 0;
  }
}
