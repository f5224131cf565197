using Percy.Kernel.Modules;
using System.Globalization;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Percy.Build;

/// <summary>A [ModuleParameter] field: its key (the field's name), C# path, type and text for .modinfo.</summary>
internal sealed record ModuleParameter(string Key, string Field, string TypeName, string Description, string? Default);

/// <summary>What a C# module declares about itself, read from its sources.</summary>
internal sealed record ModuleDescription(
    string Name,
    IReadOnlyList<(string Tag, string Value)> Info,
    string? Init,
    string? Exit,
    IReadOnlyList<ModuleParameter> Parameters,
    IReadOnlyList<string> Exports)
{
    /// <summary>A C module's: the build knows only its name; the C declares the rest.</summary>
    public static ModuleDescription NameOnly(string name) => new(name, [("name", name)], null, null, [], []);
}

/// <summary>
/// The module side of the SDK, build part: reads a C# module's attributes with Roslyn
/// (modules/sdk/ModuleAttributes.cs) and generates the entry points the loader calls
/// (percy_module_init, percy_module_exit), the parameter setter, and the asm of the
/// .modinfo and .percy_exports sections. Rules that would otherwise fail at run time —
/// statics a module cannot initialise, a second init — stop the build here. docs/modules.md.
/// </summary>
internal static class ModuleGenerator
{
    // The ABI's names, defined once with the loader's (kernel/modules/ElfConstants.cs).
    public const string InitSymbol = Elf.ModuleInitName;
    public const string ExitSymbol = Elf.ModuleExitName;
    public const string InfoSection = Elf.ModInfoSectionName;
    public const string ExportsSection = Elf.ExportsSectionName;

    private const string InfoAttribute = "Percy.Module.ModuleInfoAttribute";
    private const string InitAttribute = "Percy.Module.ModuleInitAttribute";
    private const string ExitAttribute = "Percy.Module.ModuleExitAttribute";
    private const string ParameterAttribute = "Percy.Module.ModuleParameterAttribute";
    private const string RuntimeExportAttribute = "System.Runtime.RuntimeExportAttribute";
    private const string ModuleStringType = "Percy.Module.ModuleString";

    // .modinfo tags, as Linux's modinfo prints them.
    private static readonly (string Property, string Tag)[] s_infoTags = [("Description", "description"), ("Author", "author"), ("License", "license")];

    // Parameter types the setter can parse (ModuleArgument.Parse overloads) and their modinfo names.
    private static readonly Dictionary<SpecialType, string> s_parameterTypes = new()
    {
        [SpecialType.System_Boolean] = "bool",
        [SpecialType.System_Int32] = "int",
        [SpecialType.System_UInt32] = "uint",
        [SpecialType.System_Int64] = "long",
        [SpecialType.System_UInt64] = "ulong",
    };

    public static ModuleDescription Describe(string name, CSharpCompilation compilation, IReadOnlyList<SyntaxTree> moduleTrees, string context)
    {
        var errors = new List<string>();
        var info = new List<(string, string)> { ("name", name) };
        foreach (AttributeData attribute in compilation.Assembly.GetAttributes().Where(a => a.AttributeClass?.ToDisplayString() == InfoAttribute))
        {
            foreach (var (property, tag) in s_infoTags)
            {
                if (attribute.NamedArguments.FirstOrDefault(a => a.Key == property).Value.Value is string value)
                {
                    CheckInfoText(tag, value, errors);
                    info.Add((tag, value));
                }
            }
        }

        var inits = new List<string>();
        var exits = new List<string>();
        var parameters = new List<ModuleParameter>();
        var exports = new List<string>();
        foreach (SyntaxTree tree in moduleTrees)
        {
            SemanticModel model = compilation.GetSemanticModel(tree);
            foreach (SyntaxNode node in tree.GetRoot().DescendantNodes())
            {
                string Where() => $"{tree.FilePath}:{node.GetLocation().GetLineSpan().StartLinePosition.Line + 1}";
                switch (node)
                {
                    case MethodDeclarationSyntax method when model.GetDeclaredSymbol(method) is { } symbol:
                        CheckEntry(symbol, InitAttribute, SpecialType.System_Int32, "static int Init()", inits, Where, errors);
                        CheckEntry(symbol, ExitAttribute, SpecialType.System_Void, "static void Exit()", exits, Where, errors);
                        if (Find(symbol, RuntimeExportAttribute)?.ConstructorArguments.FirstOrDefault().Value is string export)
                        {
                            exports.Add(export);
                        }

                        break;
                    case ConstructorDeclarationSyntax constructor when constructor.Modifiers.Any(SyntaxKind.StaticKeyword):
                        errors.Add($"{Where()}: static constructor: a module runs no class constructors; give statics constant initializers");
                        break;
                    case VariableDeclaratorSyntax variable when model.GetDeclaredSymbol(variable) is IFieldSymbol { IsStatic: true, IsConst: false } field:
                        CheckStatic(field, variable, model, Where, errors);
                        if (Find(field, ParameterAttribute) is { } parameter)
                        {
                            AddParameter(field, parameter, parameters, Where, errors);
                        }

                        break;
                }
            }
        }

        foreach (string export in exports)
        {
            if (export is InitSymbol or ExitSymbol || KernelExportCheck.Exports().Any(e => e.Name == export))
            {
                errors.Add($"[RuntimeExport(\"{export}\")]: the name is the kernel's or an entry point's; a module's exports must be its own");
            }
        }

        foreach (var duplicate in exports.GroupBy(e => e, StringComparer.Ordinal).Where(g => g.Count() > 1))
        {
            errors.Add($"[RuntimeExport(\"{duplicate.Key}\")] is exported twice");
        }

        foreach (var duplicate in parameters.GroupBy(p => p.Key, StringComparer.Ordinal).Where(g => g.Count() > 1))
        {
            errors.Add($"parameter '{duplicate.Key}' is declared twice: {string.Join(", ", duplicate.Select(p => p.Field))}");
        }

        if (inits.Count > 1 || exits.Count > 1)
        {
            errors.Add($"a module has at most one [ModuleInit] and one [ModuleExit]; found {string.Join(", ", inits.Concat(exits))}");
        }

        if (errors.Count > 0)
        {
            throw new BuildException($"{context}: " + string.Join("\n", errors));
        }

        return new ModuleDescription(name, info, inits.FirstOrDefault(), exits.FirstOrDefault(), parameters, exports);
    }

    private static AttributeData? Find(ISymbol symbol, string attribute)
        => symbol.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == attribute);

    // [ModuleInit] / [ModuleExit]: static, no parameters, the right return type, callable from
    // the generated entry point (not private, in non-generic types).
    private static void CheckEntry(IMethodSymbol method, string attribute, SpecialType returns, string shape, List<string> found, Func<string> where, List<string> errors)
    {
        if (Find(method, attribute) is null)
        {
            return;
        }

        string path = FullName(method);
        if (!method.IsStatic || method.Parameters.Length > 0 || method.ReturnType.SpecialType != returns || method.IsGenericMethod)
        {
            errors.Add($"{where()}: {path}: must be `{shape}`");
        }
        else if (!IsReachable(method))
        {
            errors.Add($"{where()}: {path}: must not be private (nor inside a private or generic type): the generated entry point calls it");
        }

        found.Add(path);
    }

    // A module has no start-up pass: statics must be data the compiler lays out (constants,
    // value types), never objects built at run time.
    private static void CheckStatic(IFieldSymbol field, VariableDeclaratorSyntax variable, SemanticModel model, Func<string> where, List<string> errors)
    {
        if (field.Type.IsReferenceType)
        {
            errors.Add($"{where()}: static field {field.Name} of reference type {field.Type.ToDisplayString()}: a module cannot initialise these (no runtime start-up); use a const, a value type or kernel memory");
        }
        else if (variable.Initializer is { Value: { } value } && !model.GetConstantValue(value).HasValue
            && value is not LiteralExpressionSyntax { RawKind: (int)SyntaxKind.DefaultLiteralExpression } and not DefaultExpressionSyntax
            && !IsPerCpuTemplate(field))
        {
            errors.Add($"{where()}: static field {field.Name}: its initializer must be a constant (a module runs no class constructors)");
        }
    }

    // A [DefinePerCpu(InitialFrom = nameof(T))] template: the build evaluates it into the
    // section's bytes; nothing reads the field at run time.
    private static bool IsPerCpuTemplate(IFieldSymbol field)
        => field.ContainingType.GetMembers().OfType<IPropertySymbol>()
            .SelectMany(p => p.GetAttributes())
            .Any(a => a.AttributeClass?.ToDisplayString() == PerCpuGenerator.AttributeName
                && a.NamedArguments.Any(n => n.Key == "InitialFrom" && n.Value.Value as string == field.Name));

    private static void AddParameter(IFieldSymbol field, AttributeData attribute, List<ModuleParameter> parameters, Func<string> where, List<string> errors)
    {
        string description = attribute.ConstructorArguments.FirstOrDefault().Value as string ?? string.Empty;
        string? defaultText = attribute.NamedArguments.FirstOrDefault(a => a.Key == "Default").Value.Value as string;
        bool isString = field.Type.ToDisplayString() == ModuleStringType;
        string? typeName = isString ? "string" : s_parameterTypes.GetValueOrDefault(field.Type.SpecialType);
        if (typeName is null)
        {
            errors.Add($"{where()}: [ModuleParameter] {field.Name}: type {field.Type.ToDisplayString()} is not one of bool, int, uint, long, ulong, ModuleString");
            return;
        }

        if (field.IsReadOnly || !IsReachable(field))
        {
            errors.Add($"{where()}: [ModuleParameter] {field.Name}: must be a writable static field that is not private: the generated setter stores into it");
            return;
        }

        if (defaultText is not null && !isString)
        {
            errors.Add($"{where()}: [ModuleParameter] {field.Name}: Default is for ModuleString parameters; give a {typeName} its default with the field's initializer");
            return;
        }

        if (defaultText is not null && (defaultText.Length > ModuleStringCapacity || defaultText.Any(c => c > '~')))
        {
            errors.Add($"{where()}: [ModuleParameter] {field.Name}: Default must be ASCII of at most {ModuleStringCapacity} bytes");
            return;
        }

        CheckInfoText("parm", description, errors);
        parameters.Add(new ModuleParameter(field.Name, FullName(field), typeName, description, defaultText));
    }

    // modules/sdk/ModuleString.cs: Capacity.
    private const int ModuleStringCapacity = 63;

    private static bool IsReachable(ISymbol symbol)
    {
        for (ISymbol? s = symbol; s is not null and not INamespaceSymbol; s = s.ContainingType)
        {
            if (s.DeclaredAccessibility is Accessibility.Private or Accessibility.Protected || s is INamedTypeSymbol { IsGenericType: true })
            {
                return false;
            }
        }

        return true;
    }

    private static string FullName(ISymbol symbol) => $"global::{symbol.ContainingType.ToDisplayString()}.{symbol.Name}";

    // .modinfo strings are NUL-terminated key=value text: printable ASCII, no NUL.
    private static void CheckInfoText(string tag, string value, List<string> errors)
    {
        if (value.Any(c => c < ' ' || c > '~'))
        {
            errors.Add($"module info '{tag}' must be printable ASCII on one line");
        }
    }

    /// <summary>The C# of <c>Percy.Module.ThisModule</c>: the module's name and its entry points.</summary>
    public static string EmitCSharp(ModuleDescription module, PerCpuSection percpu, string context)
    {
        var s = new StringBuilder();
        s.AppendLine(CultureInfo.InvariantCulture, $"// <auto-generated/> by build/ModuleGenerator.cs for {context}.");
        s.AppendLine("// Do not edit: ./build.sh modules rewrites it. See docs/modules.md.");
        s.AppendLine("#pragma warning disable");
        s.AppendLine();
        s.AppendLine("namespace Percy.Module");
        s.AppendLine("{");
        s.AppendLine("    internal static unsafe class ThisModule");
        s.AppendLine("    {");
        s.AppendLine(CultureInfo.InvariantCulture, $"        public const string Name = \"{module.Name}\";");
        s.AppendLine();
        s.AppendLine("        // The loader calls this once, with insmod's arguments: 0, or a negative errno.");
        s.AppendLine(CultureInfo.InvariantCulture, $"        [global::System.Runtime.RuntimeExport(\"{InitSymbol}\")]");
        s.AppendLine("        static int Init(byte* arguments, ulong length)");
        s.AppendLine("        {");
        if (!percpu.IsEmpty)
        {
            s.AppendLine("            // Free when the build's layout is right: sizeof is a constant.");
            s.AppendLine("            string wrongSize = PerCpuModule.VerifyTypeSizes();");
            s.AppendLine("            if (wrongSize != null)");
            s.AppendLine("            {");
            s.AppendLine("                KernelApi.Error($\"per-CPU variable {wrongSize}: the compiler's size is not the build's\");");
            s.AppendLine("                return -Errno.ENOEXEC;");
            s.AppendLine("            }");
            s.AppendLine("            PerCpuModule.Bind();");
        }

        foreach (ModuleParameter p in module.Parameters.Where(p => p.Default is not null))
        {
            s.AppendLine(CultureInfo.InvariantCulture, $"            {p.Field}.Set(\"{p.Default}\");");
        }

        s.AppendLine("            int error = SetParameters(arguments, length);");
        s.AppendLine("            if (error != 0) return error;");
        s.AppendLine(module.Init is null ? "            return 0;" : $"            return {module.Init}();");
        s.AppendLine("        }");
        s.AppendLine();
        s.AppendLine("        // The loader calls this once before unloading.");
        s.AppendLine(CultureInfo.InvariantCulture, $"        [global::System.Runtime.RuntimeExport(\"{ExitSymbol}\")]");
        s.AppendLine(module.Exit is null ? "        static void Exit() { }" : $"        static void Exit() => {module.Exit}();");
        s.AppendLine();
        s.AppendLine("        // key=value arguments into the [ModuleParameter] fields; unknown keys are refused.");
        s.AppendLine("        static int SetParameters(byte* text, ulong length)");
        s.AppendLine("        {");
        s.AppendLine("            var arguments = new ModuleArguments(text, length);");
        s.AppendLine("            while (arguments.Next(out ModuleArgument argument))");
        if (module.Parameters.Count == 0)
        {
            s.AppendLine("                return KernelApi.RefuseArgument(argument, \"unknown parameter (the module has none)\", Errno.ENOENT);");
        }
        else
        {
            s.AppendLine("            {");
            s.AppendLine("                string problem;");
            string keyword = "if";
            foreach (ModuleParameter p in module.Parameters)
            {
                s.AppendLine(CultureInfo.InvariantCulture, $"                {keyword} (argument.KeyIs(\"{p.Key}\")) problem = argument.Parse(out {p.Field});");
                keyword = "else if";
            }

            s.AppendLine("                else return KernelApi.RefuseArgument(argument, \"unknown parameter\", Errno.ENOENT);");
            s.AppendLine("                if (problem != null) return KernelApi.RefuseArgument(argument, problem, Errno.EINVAL);");
            s.AppendLine("            }");
        }

        s.AppendLine("            return 0;");
        s.AppendLine("        }");
        s.AppendLine("    }");
        s.AppendLine("}");
        return s.ToString();
    }

    /// <summary>The asm of .modinfo (key=value strings) and .percy_exports (symbol names), neither loaded into memory.</summary>
    public static string EmitAssembly(ModuleDescription module)
    {
        var info = new List<(string Tag, string Value)>(module.Info);
        foreach (ModuleParameter p in module.Parameters)
        {
            info.Add(("parm", $"{p.Key}:{p.Description}"));
            info.Add(("parmtype", $"{p.Key}:{p.TypeName}"));
        }

        return EmitStrings(InfoSection, info.Select(i => $"{i.Tag}={i.Value}"), "key=value: name, description, author, license, parm, parmtype")
            + EmitStrings(ExportsSection, module.Exports, "symbols other modules may use (EXPORT_SYMBOL, EXPORT_PER_CPU_SYMBOL)");
    }

    /// <summary>The per-CPU variables the module exports, for its .percy_exports.</summary>
    public static ModuleDescription WithPerCpuExports(ModuleDescription module, PerCpuSection percpu)
        => module with { Exports = [.. module.Exports, .. percpu.Variables.Where(v => v.Exported).Select(v => v.Symbol)] };

    private static string EmitStrings(string section, IEnumerable<string> strings, string what)
    {
        var s = new StringBuilder();
        s.AppendLine(CultureInfo.InvariantCulture, $"; {section}: NUL-terminated strings, {what}. Not loaded (noalloc).");
        s.AppendLine(CultureInfo.InvariantCulture, $"section {section} progbits noalloc noexec nowrite align=1");
        foreach (string text in strings)
        {
            // As bytes: the text may hold quotes, which NASM strings cannot escape.
            s.AppendLine(CultureInfo.InvariantCulture, $"    db {string.Join(", ", Encoding.ASCII.GetBytes(text).Select(b => $"0x{b:x2}"))}, 0    ; {text}");
        }

        return s.ToString();
    }
}
