package io.tandem.ops;

import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Help;
import picocli.CommandLine.Help.Ansi.Text;
import picocli.CommandLine.Help.Column;
import picocli.CommandLine.Help.TextTable;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code --help} text wrapped at spaces only. picocli wraps at the JDK's line-break opportunities,
 * which include a dot inside a word: "1.5B/32B" came out as "1.5" and "B/32B" on two lines, and
 * "model.safetensors" as "model." and "safetensors". Here a line breaks at the last space that
 * fits, and only a word longer than the whole column is left to picocli.
 */
final class HelpText {

  private HelpText() {}

  /** Makes every command of {@code root} (and its subcommands) wrap its help text at spaces. */
  static void install(CommandLine root) {
    root.setHelpFactory(SpaceWrappingHelp::new);
  }

  private static final class SpaceWrappingHelp extends Help {
    SpaceWrappingHelp(CommandSpec spec, ColorScheme scheme) {
      super(spec, scheme);
    }

    @Override
    public Layout createDefaultLayout() {
      TextTable defaults = TextTable.forDefaultColumns(colorScheme(), commandSpec().usageMessage().longOptionsMaxWidth(),
          commandSpec().usageMessage().width());
      return new Layout(colorScheme(), new SpaceWrappingTable(colorScheme(), defaults.columns()));
    }

    @Override
    public TextTable createTextTable(Map<?, ?> map) {
      TextTable defaults = super.createTextTable(map);
      SpaceWrappingTable table = new SpaceWrappingTable(colorScheme(), defaults.columns());
      table.indentWrappedLines = defaults.indentWrappedLines;
      for (int row = 0; row < defaults.rowCount(); row++) {
        Text[] values = new Text[defaults.columns().length];
        for (int col = 0; col < values.length; col++) values[col] = defaults.textAt(row, col);
        table.addRowValues(values);
      }
      return table;
    }

    /** One row per subcommand: its name, then the first line of its header (or description). */
    @Override
    public String commandList(Map<String, Help> subcommands) {
      if (subcommands.isEmpty()) return "";
      int names = subcommands.keySet().stream().mapToInt(String::length).max().orElse(0) + 4;
      int width = commandSpec().usageMessage().width();
      StringBuilder out = new StringBuilder();
      for (Map.Entry<String, Help> e : subcommands.entrySet()) {
        var usage = e.getValue().commandSpec().usageMessage();
        String[] lines = usage.header().length > 0 ? usage.header() : usage.description();
        String text = lines.length == 0 ? "" : lines[0];
        String[] wrapped = wrap(text, width - names - 2).split(System.lineSeparator());
        out.append(String.format("  %-" + (names - 2) + "s%s", e.getKey(), wrapped[0]).stripTrailing())
            .append(System.lineSeparator());
        for (int i = 1; i < wrapped.length; i++)
          out.append(" ".repeat(names + 2)).append(wrapped[i]).append(System.lineSeparator());
      }
      return out.toString();
    }

    @Override
    public String description(Object... params) {
      CommandSpec spec = commandSpec();
      StringBuilder out = new StringBuilder();
      for (String line : spec.usageMessage().description()) {
        out.append(wrap(String.format(line, params), spec.usageMessage().width())).append(System.lineSeparator());
      }
      return out.toString();
    }
  }

  /** A table whose wrapping columns break at the last space that fits. */
  private static final class SpaceWrappingTable extends TextTable {
    private final Help.ColorScheme scheme;

    SpaceWrappingTable(Help.ColorScheme scheme, Column[] columns) {
      super(scheme, columns);
      this.scheme = scheme;
    }

    @Override
    public Cell putValue(int row, int col, Text value) {
      Column column = columns()[col];
      String plain = value == null ? "" : value.plainString();
      int room = column.width - column.indent - 1;
      if (column.overflow != Column.Overflow.WRAP || plain.length() <= room) return super.putValue(row, col, value);
      int firstWord = plain.length() - plain.stripLeading().length();
      int cut = plain.lastIndexOf(' ', room);
      if (cut <= firstWord) return super.putValue(row, col, value); // no space to break at: picocli's wrapping
      super.putValue(row, col, value.substring(0, cut));
      addEmptyRow();
      Text indent = scheme.ansi().new Text(" ".repeat(indentWrappedLines), scheme);
      return putValue(rowCount() - 1, col, indent.concat(value.substring(cut + 1)));
    }
  }

  /** Plain text wrapped at spaces to {@code width} columns. */
  static String wrap(String text, int width) {
    StringBuilder out = new StringBuilder();
    int lineStart = 0;
    for (String word : text.split(" ")) {
      if (out.length() - lineStart + word.length() + 1 > width && out.length() > lineStart) {
        out.append(System.lineSeparator());
        lineStart = out.length();
      } else if (out.length() > lineStart) {
        out.append(' ');
      }
      out.append(word);
    }
    return out.toString();
  }
}
