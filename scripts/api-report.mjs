// The package's public API as a text report: every export of each entry point in package.json
// `exports` (`.` and `./openclaw`), with its kind and signature, read from the sources with the
// TypeScript compiler API (a dev dependency already). `scripts/gen-api.mjs` writes it to
// api/workspace-sync.api.md; test/api-report.test.ts fails when the checked-in copy differs, so
// every change to the public surface shows up in review as a diff of that file.
//
// Why not api-extractor: it would add a dependency tree of its own (and a config and a build of
// .d.ts files before each check) for what is here ~100 lines over the compiler we already use.
import path from "node:path";
import ts from "typescript";

/** Entry points: the package subpath and its source file. */
export const ENTRY_POINTS = [
  { subpath: ".", file: "src/index.ts" },
  { subpath: "./openclaw", file: "src/openclaw/index.ts" },
];

const FLAGS = ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.UseSingleQuotesForStringLiteralType | ts.TypeFormatFlags.WriteArrayAsGenericType;

function kindOf(symbol) {
  const f = symbol.flags;
  if (f & ts.SymbolFlags.Class) return "class";
  if (f & ts.SymbolFlags.Function) return "function";
  if (f & ts.SymbolFlags.Interface) return "interface";
  if (f & ts.SymbolFlags.TypeAlias) return "type";
  if (f & ts.SymbolFlags.Enum) return "enum";
  if (f & ts.SymbolFlags.Variable) {
    const decl = symbol.valueDeclaration;
    const list = decl && ts.isVariableDeclaration(decl) ? decl.parent : undefined;
    return list && list.flags & ts.NodeFlags.Const ? "const" : "let";
  }
  return "other";
}

function isPublicMember(prop) {
  const decl = prop.valueDeclaration ?? prop.declarations?.[0];
  if (!decl) return true;
  const mods = ts.getCombinedModifierFlags(decl);
  if (mods & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) return false;
  return !(decl.name && ts.isPrivateIdentifier(decl.name));
}

function memberLines(checker, type, at, indent, owners) {
  const lines = [];
  for (const sig of type.getCallSignatures()) lines.push(`${indent}${checker.signatureToString(sig, at, FLAGS)};`);
  for (const sig of type.getConstructSignatures()) lines.push(`${indent}new ${checker.signatureToString(sig, at, FLAGS)};`);
  for (const info of checker.getIndexInfosOfType(type)) {
    lines.push(`${indent}[key: ${checker.typeToString(info.keyType, at, FLAGS)}]: ${checker.typeToString(info.type, at, FLAGS)};`);
  }
  for (const prop of checker.getPropertiesOfType(type)) {
    if (!isPublicMember(prop)) continue;
    // Own members only: inherited ones are listed under the base (or belong to Error, Readable, ...).
    if (owners && !(prop.declarations ?? []).some((d) => owners.has(d.parent))) continue;
    const name = prop.getName();
    if (name.startsWith("__@") || name.startsWith("#")) continue;
    const propType = checker.getTypeOfSymbolAtLocation(prop, at);
    const optional = prop.flags & ts.SymbolFlags.Optional ? "?" : "";
    const readonly = (ts.getCheckFlags?.(prop) ?? 0) & ts.CheckFlags?.Readonly || isReadonly(prop) ? "readonly " : "";
    if (prop.flags & ts.SymbolFlags.Method) {
      for (const sig of propType.getCallSignatures()) lines.push(`${indent}${name}${optional}${checker.signatureToString(sig, at, FLAGS)};`);
    } else {
      lines.push(`${indent}${readonly}${name}${optional}: ${checker.typeToString(propType, at, FLAGS)};`);
    }
  }
  return lines;
}

function isReadonly(prop) {
  const decl = prop.valueDeclaration ?? prop.declarations?.[0];
  return !!decl && (ts.getCombinedModifierFlags(decl) & ts.ModifierFlags.Readonly) !== 0;
}

function describe(checker, name, symbol, at) {
  const kind = kindOf(symbol);
  switch (kind) {
    case "function": {
      const type = checker.getTypeOfSymbolAtLocation(symbol, at);
      return type.getCallSignatures().map((sig) => `function ${name}${checker.signatureToString(sig, at, FLAGS)};`);
    }
    case "const":
    case "let":
      return [`${kind} ${name}: ${checker.typeToString(checker.getTypeOfSymbolAtLocation(symbol, at), at, FLAGS)};`];
    case "type": {
      const decl = symbol.declarations.find(ts.isTypeAliasDeclaration);
      const params = decl?.typeParameters ? `<${decl.typeParameters.map((p) => p.getText()).join(", ")}>` : "";
      const type = checker.getDeclaredTypeOfSymbol(symbol);
      return [`type ${name}${params} = ${checker.typeToString(type, at, FLAGS | ts.TypeFormatFlags.InTypeAlias)};`];
    }
    case "interface": {
      const decl = symbol.declarations.find(ts.isInterfaceDeclaration);
      const params = decl?.typeParameters ? `<${decl.typeParameters.map((p) => p.getText()).join(", ")}>` : "";
      const type = checker.getDeclaredTypeOfSymbol(symbol);
      const bases = (type.getBaseTypes?.() ?? []).map((b) => checker.typeToString(b, at, FLAGS));
      const ext = bases.length ? ` extends ${bases.join(", ")}` : "";
      return [`interface ${name}${params}${ext} {`, ...memberLines(checker, type, at, "  ", new Set(symbol.declarations)), "}"];
    }
    case "class": {
      const instance = checker.getDeclaredTypeOfSymbol(symbol);
      const base = (instance.getBaseTypes?.() ?? []).map((b) => checker.typeToString(b, at, FLAGS));
      const statics = checker.getTypeOfSymbolAtLocation(symbol, at);
      const owners = new Set(symbol.declarations);
      const staticLines = memberLines(checker, statics, at, "  static ", owners).filter((l) => !l.startsWith("  static new "));
      const ctors = statics.getConstructSignatures().map((sig) => {
        const text = checker.signatureToString(sig, at, FLAGS);
        const ret = `: ${checker.typeToString(sig.getReturnType(), at, FLAGS)}`;
        return `  constructor${text.endsWith(ret) ? text.slice(0, -ret.length) : text};`;
      });
      return [
        `class ${name}${base.length ? ` extends ${base.join(", ")}` : ""} {`,
        ...ctors,
        ...staticLines,
        ...memberLines(checker, instance, at, "  ", owners),
        "}",
      ];
    }
    default:
      return [`${kind} ${name}: ${checker.typeToString(checker.getTypeOfSymbolAtLocation(symbol, at), at, FLAGS)};`];
  }
}

/** The report text for the package at `root`. */
export function apiReport(root) {
  const config = ts.getParsedCommandLineOfConfigFile(path.join(root, "tsconfig.build.json"), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
  const files = ENTRY_POINTS.map((e) => path.join(root, e.file));
  const program = ts.createProgram(files, { ...config.options, noEmit: true });
  const checker = program.getTypeChecker();
  const out = [
    "# API report: workspace-sync",
    "",
    "Generated by `npm run docs` (scripts/gen-api.mjs); test/api-report.test.ts fails when it is out of date.",
    "Every export of the package's entry points with its kind and signature. A change here is a change to the",
    "public API: review it as one.",
  ];
  for (const entry of ENTRY_POINTS) {
    const source = program.getSourceFile(path.join(root, entry.file));
    const moduleSymbol = checker.getSymbolAtLocation(source);
    const exports = checker.getExportsOfModule(moduleSymbol).slice().sort((a, b) => (a.getName() < b.getName() ? -1 : a.getName() > b.getName() ? 1 : 0));
    const spec = entry.subpath === "." ? "workspace-sync" : `workspace-sync/${entry.subpath.slice(2)}`;
    out.push("", `## \`${spec}\` (${entry.file})`, "", "```ts");
    for (const exp of exports) {
      const symbol = exp.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exp) : exp;
      out.push(...describe(checker, exp.getName(), symbol, source));
    }
    out.push("```");
  }
  // Types named by an absolute module path: their exported name when the entry exports them, else
  // the path from the package root (an internal type that a public signature uses).
  const exported = new Set(out.join("\n").match(/^(?:class|function|interface|type|const|let|enum) (\w+)/gm)?.map((l) => l.split(" ")[1]));
  const prefix = `${root.split(path.sep).join("/")}/`;
  return `${out.join("\n")}\n`.replace(/import\("([^"]+)"\)\.(\w+)/g, (all, file, name) => {
    if (!file.startsWith(prefix)) return all;
    return exported.has(name) ? name : `import("${file.slice(prefix.length)}").${name}`;
  });
}
