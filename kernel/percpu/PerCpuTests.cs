// KTAP suite `percpu`: the static per-CPU section as linked into the running kernel.
// (The units themselves are mapped by the boot integration of the per-CPU subsystem;
// until then these cases check the template every unit will be copied from.)
using Percy.Kernel.Arch;
using Percy.Kernel.SelfTest;

namespace Percy.Kernel.Percpu
{
    internal static unsafe class PerCpuTests
    {
        public static void Register()
        {
            SelfTests.Register("percpu", "image_matches_generated_layout", &ImageMatchesGeneratedLayout);
            SelfTests.Register("percpu", "template_holds_initial_values", &TemplateHoldsInitialValues);
        }

        static void ImageMatchesGeneratedLayout(TestContext* t)
        {
            PerCpuImage image = PerCpuImage.Current;
            t->Note($"template at {image.Load:x16}, {image.Size} bytes");
            t->Expect(image.MatchesGeneratedLayout, "the linked section has the generated size and starts at offset 0");
            KernelLayout k = KernelLayout.Current;
            t->Expect(image.Load >= k.RodataStart && image.Load + image.Size <= k.DataStart, "the template lies in the read-only part of the image");
        }

        static void TemplateHoldsInitialValues(TestContext* t)
        {
            byte* template = (byte*)PerCpuImage.Current.Load;
            t->ExpectEqual(*(ulong*)(template + PerCpuExamples.MagicOffset), PerCpuExamples.MagicValue, "Magic's initial value");
            t->ExpectEqual(*(uint*)(template + PerCpuExamples.AnswerOffset), 42, "Answer's initial value");
            t->ExpectEqual(*(ulong*)(template + PerCpuExamples.ProbeCounterOffset), 0, "ProbeCounter starts at zero");
        }
    }
}
