package io.tandem.inference.text.jinja;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.exptest.ExpTest;
import java.util.Map;

/**
 * {@code iterable} as Jinja2's: a string and a dict are iterable too (Jinjava's said only lists were, and Hermes' tool
 * template, which tests {@code is iterable}, wrote other parameter types: tester60i).
 */
public final class PyIterableTest implements ExpTest {

  @Override
  public String getName() {
    return "iterable";
  }

  @Override
  public boolean evaluate(Object var, JinjavaInterpreter interpreter, Object... args) {
    return var instanceof CharSequence || var instanceof Map<?, ?> || var instanceof Iterable<?>
        || (var != null && var.getClass().isArray());
  }
}
