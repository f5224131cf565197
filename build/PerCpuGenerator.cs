using System.Globalization;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Percy.Build;

/// <summary>One per-CPU variable: where it is declared and where it sits in .data..percpu.</summary>
internal sealed record PerCpuVariable(
    string DeclaringType,       // Percy.Kernel.Percpu.PerCpuExamples
    string Name,                // ProbeCounter
    string Symbol,              // per_cpu__Percy_Kernel_Percpu_PerCpuExamples__ProbeCounter
    string ValueType,           // global::Percy.Kernel.Percpu.Int4200, long, ...
    ulong Offset,
    ulong Size,
    ulong Align,
    byte[]? Initial,
    string Location,            // kernel/percpu/PerCpuExamples.cs:12
    PerCpuDeclaration Declaration);

/// <summary>What the generated C# needs to complete a declaration: its modifiers and enclosing types.</summary>
internal sealed record PerCpuDeclaration(string Modifiers, string Accessibility, string? Namespace, IReadOnlyList<string> TypeHeaders);

/// <summary>The static per-CPU section as the generator laid it out.</summary>
internal sealed record PerCpuSection(IReadOnlyList<PerCpuVariable> Variables, ulong Size, ulong Align);

/// <summary>
/// Percy's DEFINE_PER_CPU, build side. Reads every <c>[DefinePerCpu]</c> property of the
/// kernel's C# with Roslyn and generates, before the kernel is compiled, the C# bodies and
/// offsets (kernel/percpu/obj/PerCpu.g.cs, picked up by the kernel project like any source
/// file there) and the NASM file of the .data..percpu section (iso/out/obj/percpu/percpu.asm).
/// The generated C# offsets and the section come from one layout computed here; after the
/// link, <see cref="PerCpuCheck"/> proves the ELF's symbols agree. See docs/percpu.md.
/// </summary>
internal static class PerCpuGenerator
{
    public const string AttributeName = "Percy.Kernel.Percpu.DefinePerCpuAttribute";
    public const string SymbolPrefix = "per_cpu__";
    public const string SectionName = ".data..percpu";

    // Where the kernel's layout helpers live (kernel/percpu/PerCpuLayout.cs).
    private const string LayoutClass = "global::Percy.Kernel.Percpu.PerCpuLayout";

    // The section's end is padded to this, so the reserved and dynamic parts start aligned.
    private const ulong SectionEndAlign = 8;

    public static string GeneratedSource => Path.Combine(Paths.Kernel, "percpu", "obj", "PerCpu.g.cs");

    public static string GeneratedAssembly => Path.Combine(Paths.Objects, "percpu", "percpu.asm");

    /// <summary>Reads the declarations, writes both generated files (only when they change), returns the layout.</summary>
    public static PerCpuSection Generate()
    {
        PerCpuSection section = Analyze(ReadKernelSources());
        WriteIfChanged(GeneratedSource, EmitCSharp(section));
        WriteIfChanged(GeneratedAssembly, EmitAssembly(section));
        return section;
    }

    // Every C# file under kernel/ except build output (any bin/ or obj/ directory, which is
    // also where the generated file lives).
    private static List<(string Path, string Text)> ReadKernelSources()
    {
        var sources = new List<(string, string)>();
        foreach (string file in Directory.EnumerateFiles(Paths.Kernel, "*.cs", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(Paths.Root, file);
            string[] parts = relative.Split(Path.DirectorySeparatorChar);
            if (parts.Any(p => p is "bin" or "obj"))
            {
                continue;
            }

            sources.Add((relative, File.ReadAllText(file)));
        }

        sources.Sort((a, b) => StringComparer.Ordinal.Compare(a.Item1, b.Item1));
        return sources;
    }

    internal static PerCpuSection Analyze(IReadOnlyList<(string Path, string Text)> sources)
    {
        var parseOptions = new CSharpParseOptions(LanguageVersion.Preview, preprocessorSymbols: ["TRACE", "RELEASE"]);
        var trees = sources.Select(s => CSharpSyntaxTree.ParseText(s.Text, parseOptions, s.Path)).ToList();
        // Percy is its own corlib (kernel/runtime/), so the kernel's sources are the whole world.
        var compilation = CSharpCompilation.Create(
            "percy",
            trees,
            references: [],
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: true));

        var errors = new List<string>();
        var found = new List<(IPropertySymbol Property, PropertyDeclarationSyntax Syntax, AttributeData Attribute, string Location)>();
        foreach (SyntaxTree tree in trees)
        {
            if (!tree.GetText().ToString().Contains("DefinePerCpu", StringComparison.Ordinal))
            {
                continue;
            }

            SemanticModel model = compilation.GetSemanticModel(tree);
            foreach (PropertyDeclarationSyntax syntax in tree.GetRoot().DescendantNodes().OfType<PropertyDeclarationSyntax>())
            {
                if (model.GetDeclaredSymbol(syntax) is not IPropertySymbol property)
                {
                    continue;
                }

                AttributeData? attribute = property.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == AttributeName);
                if (attribute is null)
                {
                    continue;
                }

                int line = syntax.GetLocation().GetLineSpan().StartLinePosition.Line + 1;
                found.Add((property, syntax, attribute, $"{tree.FilePath}:{line}"));
            }
        }

        var variables = new List<PerCpuVariable>();
        ulong offset = 0;
        ulong sectionAlign = SectionEndAlign;
        foreach (var (property, syntax, attribute, location) in found)
        {
            string? problem = CheckDeclaration(property, syntax);
            if (problem is not null)
            {
                errors.Add($"{location}: [DefinePerCpu] {property.Name}: {problem}");
                continue;
            }

            var layoutErrors = new List<string>();
            (ulong size, ulong align) = PerCpuTypeLayout.Of(property.Type, layoutErrors);
            if (layoutErrors.Count > 0)
            {
                errors.AddRange(layoutErrors.Select(e => $"{location}: [DefinePerCpu] {property.Name}: {e}"));
                continue;
            }

            byte[]? initial = null;
            foreach (var (key, value) in attribute.NamedArguments)
            {
                if (key == "Align")
                {
                    int requested = value.Value is int a ? a : 0;
                    if (requested <= 0 || (requested & (requested - 1)) != 0)
                    {
                        errors.Add($"{location}: [DefinePerCpu] {property.Name}: Align = {value.Value} is not a power of two");
                        continue;
                    }

                    align = Math.Max(align, (ulong)requested);
                }
                else if (key == "Initial")
                {
                    initial = InitialBytes(property.Type, value, size, out string? error);
                    if (error is not null)
                    {
                        errors.Add($"{location}: [DefinePerCpu] {property.Name}: {error}");
                    }
                }
                else if (key == "InitialFrom")
                {
                    initial = PerCpuInitializer.Evaluate(compilation, property, value.Value as string, size, out string? error);
                    if (error is not null)
                    {
                        errors.Add($"{location}: [DefinePerCpu] {property.Name}: {error}");
                    }
                }
            }

            offset = AlignUp(offset, align);
            sectionAlign = Math.Max(sectionAlign, align);
            string declaringType = property.ContainingType.ToDisplayString();
            variables.Add(new PerCpuVariable(
                declaringType,
                property.Name,
                SymbolPrefix + declaringType.Replace('.', '_') + "__" + property.Name,
                property.Type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat),
                offset,
                size,
                align,
                initial,
                location,
                DeclarationOf(property, syntax)));
            offset += size;
        }

        foreach (var duplicate in variables.GroupBy(v => v.Symbol).Where(g => g.Count() > 1))
        {
            errors.Add($"per-CPU symbol {duplicate.Key} is declared twice: {string.Join(", ", duplicate.Select(v => v.Location))}");
        }

        if (errors.Count > 0)
        {
            throw new BuildException("kernel: per-CPU declarations: " + string.Join("\n", errors));
        }

        return new PerCpuSection(variables, AlignUp(offset, SectionEndAlign), sectionAlign);
    }

    private static PerCpuDeclaration DeclarationOf(IPropertySymbol property, PropertyDeclarationSyntax syntax)
    {
        var headers = new List<string>();
        for (INamedTypeSymbol? t = property.ContainingType; t is not null; t = t.ContainingType)
        {
            string keyword = (t.TypeKind, t.IsRecord) switch
            {
                (TypeKind.Struct, true) => "record struct",
                (TypeKind.Struct, false) => "struct",
                (TypeKind.Interface, _) => "interface",
                (_, true) => "record",
                _ => "class",
            };
            headers.Insert(0, $"unsafe partial {keyword} {t.Name}");
        }

        INamespaceSymbol ns = property.ContainingType.ContainingNamespace;
        string accessibility = SyntaxFacts.GetText(property.DeclaredAccessibility);
        return new PerCpuDeclaration(
            syntax.Modifiers.ToString(),
            accessibility.Length > 0 ? accessibility : "private",
            ns.IsGlobalNamespace ? null : ns.ToDisplayString(),
            headers);
    }

    private static string? CheckDeclaration(IPropertySymbol property, PropertyDeclarationSyntax syntax)
    {
        if (!property.IsStatic)
        {
            return "must be static";
        }

        if (!property.IsPartialDefinition || syntax.ExpressionBody is not null)
        {
            return "must be a partial property without a body (the build writes it): `static partial ref T Name { get; }`";
        }

        if (property.PartialImplementationPart is not null)
        {
            return "has a hand-written implementing declaration; the build generates it";
        }

        if (property.RefKind != RefKind.Ref)
        {
            return "must return by `ref` (this CPU's copy is a variable, not a value)";
        }

        if (property.SetMethod is not null || property.GetMethod is null)
        {
            return "must have only a getter: `{ get; }`";
        }

        if (!property.Type.IsUnmanagedType || property.Type.IsReferenceType)
        {
            return $"type {property.Type.ToDisplayString()} is not an unmanaged value type";
        }

        for (INamedTypeSymbol? t = property.ContainingType; t is not null; t = t.ContainingType)
        {
            if (t.IsGenericType)
            {
                return $"declaring type {t.ToDisplayString()} is generic";
            }

            bool partial = t.DeclaringSyntaxReferences
                .Select(r => r.GetSyntax())
                .OfType<TypeDeclarationSyntax>()
                .Any(d => d.Modifiers.Any(m => m.IsKind(SyntaxKind.PartialKeyword)));
            if (!partial)
            {
                return $"declaring type {t.ToDisplayString()} must be partial";
            }
        }

        return null;
    }

    // The constant of [DefinePerCpu(Initial = ...)] as the variable's bytes (little-endian).
    private static byte[]? InitialBytes(ITypeSymbol type, TypedConstant constant, ulong size, out string? error)
    {
        if (constant.Value is null || constant.Kind != TypedConstantKind.Primitive && constant.Kind != TypedConstantKind.Enum)
        {
            error = "Initial must be a constant";
            return null;
        }

        return ConstantBytes(type, constant.Value, size, out error);
    }

    internal static byte[]? ConstantBytes(ITypeSymbol type, object value, ulong size, out string? error)
    {
        error = null;
        ITypeSymbol target = type is INamedTypeSymbol { TypeKind: TypeKind.Enum, EnumUnderlyingType: { } underlying } ? underlying : type;

        try
        {
            byte[] bytes = target.SpecialType switch
            {
                SpecialType.System_Boolean => value is bool b ? [(byte)(b ? 1 : 0)] : throw new InvalidCastException(),
                SpecialType.System_Byte => [Convert.ToByte(value, CultureInfo.InvariantCulture)],
                SpecialType.System_SByte => [unchecked((byte)Convert.ToSByte(value, CultureInfo.InvariantCulture))],
                SpecialType.System_Int16 => BitConverter.GetBytes(Convert.ToInt16(value, CultureInfo.InvariantCulture)),
                SpecialType.System_UInt16 => BitConverter.GetBytes(Convert.ToUInt16(value, CultureInfo.InvariantCulture)),
                SpecialType.System_Char => BitConverter.GetBytes(Convert.ToChar(value, CultureInfo.InvariantCulture)),
                SpecialType.System_Int32 => BitConverter.GetBytes(Convert.ToInt32(value, CultureInfo.InvariantCulture)),
                SpecialType.System_UInt32 => BitConverter.GetBytes(Convert.ToUInt32(value, CultureInfo.InvariantCulture)),
                SpecialType.System_Int64 => BitConverter.GetBytes(Convert.ToInt64(value, CultureInfo.InvariantCulture)),
                SpecialType.System_UInt64 => BitConverter.GetBytes(Convert.ToUInt64(value, CultureInfo.InvariantCulture)),
                SpecialType.System_IntPtr => BitConverter.GetBytes(Convert.ToInt64(value, CultureInfo.InvariantCulture)),
                SpecialType.System_UIntPtr => BitConverter.GetBytes(Convert.ToUInt64(value, CultureInfo.InvariantCulture)),
                SpecialType.System_Single => BitConverter.GetBytes(Convert.ToSingle(value, CultureInfo.InvariantCulture)),
                SpecialType.System_Double => BitConverter.GetBytes(Convert.ToDouble(value, CultureInfo.InvariantCulture)),
                _ => throw new NotSupportedException(),
            };
            if ((ulong)bytes.Length != size)
            {
                error = $"Initial does not fill the {size}-byte variable";
                return null;
            }

            return bytes;
        }
        catch (NotSupportedException)
        {
            error = $"Initial is only for primitive and enum variables, not {type.ToDisplayString()}; give a struct its initial value with InitialFrom";
        }
        catch (Exception e) when (e is OverflowException or InvalidCastException or FormatException)
        {
            error = $"Initial = {value} does not fit {type.ToDisplayString()}";
        }

        return null;
    }

    private static string EmitCSharp(PerCpuSection section)
    {
        var s = new StringBuilder();
        s.AppendLine("// <auto-generated/> by build/PerCpuGenerator.cs from the kernel's [DefinePerCpu] declarations.");
        s.AppendLine("// Do not edit: ./build.sh kernel rewrites it. Offsets equal the per_cpu__* symbols in percy.elf.");
        s.AppendLine("#pragma warning disable");
        s.AppendLine();
        s.AppendLine("namespace Percy.Kernel.Percpu");
        s.AppendLine("{");
        s.AppendLine("    /// <summary>The static per-CPU section: __per_cpu_end - __per_cpu_start and its alignment.</summary>");
        s.AppendLine("    internal static unsafe class PerCpuStatic");
        s.AppendLine("    {");
        s.AppendLine(CultureInfo.InvariantCulture, $"        public const ulong Size = 0x{section.Size:x};");
        s.AppendLine(CultureInfo.InvariantCulture, $"        public const ulong Align = {section.Align};");
        s.AppendLine(CultureInfo.InvariantCulture, $"        public const int VariableCount = {section.Variables.Count};");
        s.AppendLine();
        s.AppendLine("        /// <summary>Null when the compiler's sizeof of every variable's type is the size the build laid out; else the symbol that differs.</summary>");
        s.AppendLine("        public static string VerifyTypeSizes()");
        s.AppendLine("        {");
        foreach (PerCpuVariable v in section.Variables)
        {
            s.AppendLine(CultureInfo.InvariantCulture, $"            if ((ulong)sizeof({v.ValueType}) != {v.Size}) return \"{v.Symbol}\";");
        }

        s.AppendLine("            return null;");
        s.AppendLine("        }");
        s.AppendLine("    }");
        s.AppendLine("}");

        foreach (var group in section.Variables.GroupBy(v => v.DeclaringType))
        {
            s.AppendLine();
            EmitDeclaringType(s, group.Key, group.ToList());
        }

        return s.ToString();
    }

    // The declaring type's generated part, nested in its namespace and containing types.
    private static void EmitDeclaringType(StringBuilder s, string declaringType, List<PerCpuVariable> variables)
    {
        PerCpuDeclaration declaration = variables[0].Declaration;
        string? ns = declaration.Namespace;
        IReadOnlyList<string> chain = declaration.TypeHeaders;
        string indent = "";
        if (ns is not null)
        {
            s.AppendLine(CultureInfo.InvariantCulture, $"namespace {ns}");
            s.AppendLine("{");
            indent = "    ";
        }

        foreach (string typeHeader in chain)
        {
            s.AppendLine(CultureInfo.InvariantCulture, $"{indent}{typeHeader}");
            s.AppendLine(CultureInfo.InvariantCulture, $"{indent}{{");
            indent += "    ";
        }

        foreach (PerCpuVariable v in variables)
        {
            string modifiers = v.Declaration.Modifiers;
            string access = v.Declaration.Accessibility;
            s.AppendLine(CultureInfo.InvariantCulture, $"{indent}// {v.Symbol}: {v.Size} bytes at 0x{v.Offset:x} (align {v.Align}), {v.Location}");
            s.AppendLine(CultureInfo.InvariantCulture, $"{indent}{access} const ulong {v.Name}Offset = 0x{v.Offset:x};");
            s.AppendLine(CultureInfo.InvariantCulture, $"{indent}{modifiers} ref {v.ValueType} {v.Name} => ref *({v.ValueType}*)({LayoutClass}.LocalBase + {v.Name}Offset);");
            s.AppendLine(CultureInfo.InvariantCulture, $"{indent}{access} static ref {v.ValueType} {v.Name}On(int cpu) => ref *({v.ValueType}*){LayoutClass}.GlobalAddress(cpu, {v.Name}Offset);");
            s.AppendLine(CultureInfo.InvariantCulture, $"{indent}{access} static {v.ValueType}* {v.Name}Pointer(int cpu) => ({v.ValueType}*){LayoutClass}.GlobalAddress(cpu, {v.Name}Offset);");
        }

        foreach (string _ in chain)
        {
            indent = indent[..^4];
            s.AppendLine(CultureInfo.InvariantCulture, $"{indent}}}");
        }

        if (ns is not null)
        {
            s.AppendLine("}");
        }
    }

    private static string EmitAssembly(PerCpuSection section)
    {
        var s = new StringBuilder();
        s.AppendLine("; Generated by build/PerCpuGenerator.cs from the kernel's [DefinePerCpu] declarations. Do not edit.");
        s.AppendLine("; The linker script places .data..percpu at address 0 between __per_cpu_start and __per_cpu_end,");
        s.AppendLine("; so each symbol's value is the variable's offset in every CPU's unit (docs/percpu.md).");
        s.AppendLine("bits 64");
        s.AppendLine(CultureInfo.InvariantCulture, $"section {SectionName} progbits alloc write noexec align={section.Align}");
        s.AppendLine();
        ulong at = 0;
        foreach (PerCpuVariable v in section.Variables)
        {
            if (v.Offset > at)
            {
                s.AppendLine(CultureInfo.InvariantCulture, $"    times {v.Offset - at} db 0");
            }

            s.AppendLine(CultureInfo.InvariantCulture, $"; {v.DeclaringType}.{v.Name}: {v.ValueType}, {v.Size} bytes, align {v.Align}, {v.Location}");
            s.AppendLine(CultureInfo.InvariantCulture, $"global {v.Symbol}:data {v.Size}");
            s.AppendLine(CultureInfo.InvariantCulture, $"{v.Symbol}:");
            if (v.Initial is { } bytes)
            {
                s.AppendLine("    db " + string.Join(", ", bytes.Select(b => $"0x{b:x2}")));
            }
            else
            {
                s.AppendLine(CultureInfo.InvariantCulture, $"    times {v.Size} db 0");
            }

            at = v.Offset + v.Size;
        }

        if (section.Size > at)
        {
            s.AppendLine(CultureInfo.InvariantCulture, $"    times {section.Size - at} db 0");
        }

        return s.ToString();
    }

    private static void WriteIfChanged(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        if (!File.Exists(path) || File.ReadAllText(path) != text)
        {
            File.WriteAllText(path, text);
        }
    }

    private static ulong AlignUp(ulong value, ulong align) => (value + align - 1) & ~(align - 1);
}
