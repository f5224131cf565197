using Microsoft.CodeAnalysis;

namespace Percy.Build;

/// <summary>
/// Size and alignment of an unmanaged C# type as the ILCompiler lays it out on x86-64:
/// primitives at their natural alignment, sequential structs field by field (honouring
/// StructLayout Pack and Size), explicit structs by FieldOffset, fixed buffers as arrays of
/// their element. The generated kernel code re-checks every size with the compiler's own
/// sizeof (PerCpuStatic.VerifyTypeSizes) for the boot code to call.
/// </summary>
internal static class PerCpuTypeLayout
{
    private const int LayoutSequential = 0;
    private const int LayoutExplicit = 2;
    private const int LayoutAuto = 3;

    public static (ulong Size, ulong Align) Of(ITypeSymbol type, List<string> errors)
    {
        switch (type.SpecialType)
        {
            case SpecialType.System_Boolean:
            case SpecialType.System_Byte:
            case SpecialType.System_SByte:
                return (1, 1);
            case SpecialType.System_Char:
            case SpecialType.System_Int16:
            case SpecialType.System_UInt16:
                return (2, 2);
            case SpecialType.System_Int32:
            case SpecialType.System_UInt32:
            case SpecialType.System_Single:
                return (4, 4);
            case SpecialType.System_Int64:
            case SpecialType.System_UInt64:
            case SpecialType.System_Double:
            case SpecialType.System_IntPtr:
            case SpecialType.System_UIntPtr:
                return (8, 8);
        }

        if (type.TypeKind is TypeKind.Pointer or TypeKind.FunctionPointer)
        {
            return (8, 8);
        }

        if (type is INamedTypeSymbol { TypeKind: TypeKind.Enum, EnumUnderlyingType: { } underlying })
        {
            return Of(underlying, errors);
        }

        if (type is not INamedTypeSymbol { TypeKind: TypeKind.Struct } named)
        {
            errors.Add($"type {type.ToDisplayString()} has no known layout");
            return (0, 1);
        }

        return OfStruct(named, errors, null);
    }

    /// <summary>The offset of an instance field in its struct, as <see cref="Of"/> lays it out.</summary>
    public static ulong FieldOffset(INamedTypeSymbol type, IFieldSymbol field, List<string> errors)
    {
        var offsets = new Dictionary<IFieldSymbol, ulong>(SymbolEqualityComparer.Default);
        OfStruct(type, errors, offsets);
        return offsets.TryGetValue(field, out ulong offset) ? offset : 0;
    }

    private static (ulong Size, ulong Align) OfStruct(INamedTypeSymbol type, List<string> errors, Dictionary<IFieldSymbol, ulong>? offsets)
    {
        int kind = LayoutSequential;
        ulong pack = 0, minimumSize = 0;
        AttributeData? layout = type.GetAttributes().FirstOrDefault(a => a.AttributeClass?.Name == "StructLayoutAttribute");
        if (layout is not null)
        {
            if (layout.ConstructorArguments.Length == 1 && layout.ConstructorArguments[0].Value is { } k)
            {
                kind = Convert.ToInt32(k, System.Globalization.CultureInfo.InvariantCulture);
            }

            foreach (var (name, value) in layout.NamedArguments)
            {
                if (name == "Pack" && value.Value is int p)
                {
                    pack = (ulong)p;
                }
                else if (name == "Size" && value.Value is int s)
                {
                    minimumSize = (ulong)s;
                }
            }
        }

        if (kind == LayoutAuto)
        {
            errors.Add($"struct {type.ToDisplayString()} has LayoutKind.Auto; per-CPU types need a fixed layout");
            return (0, 1);
        }

        ulong size = 0, align = 1;
        foreach (IFieldSymbol field in type.GetMembers().OfType<IFieldSymbol>().Where(f => !f.IsStatic && !f.IsConst))
        {
            ulong fieldSize, fieldAlign;
            if (field.IsFixedSizeBuffer && field.Type is IPointerTypeSymbol pointer)
            {
                (ulong elementSize, fieldAlign) = Of(pointer.PointedAtType, errors);
                fieldSize = elementSize * (ulong)field.FixedSize;
            }
            else
            {
                (fieldSize, fieldAlign) = Of(field.Type, errors);
            }

            if (pack != 0)
            {
                fieldAlign = Math.Min(fieldAlign, pack);
            }

            align = Math.Max(align, fieldAlign);
            if (kind == LayoutExplicit)
            {
                AttributeData? at = field.GetAttributes().FirstOrDefault(a => a.AttributeClass?.Name == "FieldOffsetAttribute");
                if (at?.ConstructorArguments.FirstOrDefault().Value is not int fieldOffset)
                {
                    errors.Add($"field {type.ToDisplayString()}.{field.Name} has no FieldOffset in an explicit struct");
                    continue;
                }

                offsets?.Add(field, (ulong)fieldOffset);
                size = Math.Max(size, (ulong)fieldOffset + fieldSize);
            }
            else
            {
                size = AlignUp(size, fieldAlign);
                offsets?.Add(field, size);
                size += fieldSize;
            }
        }

        size = Math.Max(Math.Max(size, minimumSize), 1);
        return (AlignUp(size, align), align);
    }

    private static ulong AlignUp(ulong value, ulong align) => (value + align - 1) & ~(align - 1);
}
