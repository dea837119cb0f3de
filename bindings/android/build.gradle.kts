// Souk for Android: the Kotlin API (src/main/kotlin), its JNI layer (src/main/cpp), and
// Android-only helpers (src/android/kotlin: Keystore key, lifecycle and network hints).
//
// Include it in your app's project (settings.gradle.kts):
//     include(":souk")
//     project(":souk").projectDir = file("<souk checkout>/bindings/android")
// and point it at libsouk built for each ABI (gradle.properties or -P):
//     souk.prefix=/path/to/souk-android      # <prefix>/<abi>/lib/libsouk.so and lib/cmake/souk
//
// NOT BUILT with Gradle where this module is developed (no Android SDK/NDK there). The very same
// src/main/kotlin and src/main/cpp are compiled and tested on the desktop JVM by
// scripts/build-jvm.sh (ctest -R kotlin). src/android/kotlin is only compiled by this file.
import org.jetbrains.kotlin.gradle.dsl.JvmTarget

plugins {
    id("com.android.library") version "8.5.2"
    id("org.jetbrains.kotlin.android") version "2.0.21"
}

val soukPrefix: String = providers.gradleProperty("souk.prefix").orNull
    ?: error("set the Gradle property souk.prefix to libsouk's Android install prefix (see README.md)")
val soukAbis = listOf("arm64-v8a", "armeabi-v7a", "x86_64")

android {
    namespace = "io.souk"
    compileSdk = 35

    defaultConfig {
        minSdk = 24
        consumerProguardFiles("consumer-rules.pro")
        ndk { abiFilters += soukAbis }
        externalNativeBuild {
            cmake {
                // CMakeLists.txt picks <prefix>/${ANDROID_ABI}/lib/cmake/souk
                arguments += listOf("-DSOUK_ANDROID_PREFIX=$soukPrefix", "-DANDROID_STL=none")
                cFlags += listOf("-Werror")
            }
        }
    }

    externalNativeBuild {
        cmake {
            path = file("src/main/cpp/CMakeLists.txt")
            version = "3.22.1"
        }
    }

    sourceSets {
        getByName("main") {
            java.srcDirs("src/main/kotlin", "src/android/kotlin", layout.buildDirectory.dir("generated/souk-version"))
            // libsouk.so itself (libsoukjni.so is built by CMake above)
            jniLibs.srcDirs(layout.buildDirectory.dir("generated/souk-jniLibs"))
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    testOptions {
        // src/test/kotlin needs a host libsoukjni and a real soukd: ctest runs it (ctest -R kotlin)
        unitTests.all { it.enabled = false }
    }
}

kotlin {
    compilerOptions {
        jvmTarget.set(JvmTarget.JVM_17)
        allWarningsAsErrors.set(true)
    }
}

// Package each ABI's libsouk.so next to libsoukjni.so.
val copySoukLibs by tasks.registering(Copy::class) {
    soukAbis.forEach { abi ->
        from("$soukPrefix/$abi/lib") {
            include("libsouk.so")
            into(abi)
        }
    }
    into(layout.buildDirectory.dir("generated/souk-jniLibs"))
}
// io.souk.SoukVersion from libsouk's version.h (the load-time version check's reference)
val generateSoukVersion by tasks.registering(Exec::class) {
    val header = file("../../sdk/include/souk/version.h")
    val out = layout.buildDirectory.file("generated/souk-version/SoukVersion.kt")
    inputs.file(header)
    outputs.file(out)
    doFirst { out.get().asFile.parentFile.mkdirs() }
    commandLine("bash", file("scripts/gen-version.sh").path, header.path, out.get().asFile.path)
}
tasks.named("preBuild") { dependsOn(copySoukLibs, generateSoukVersion) }

dependencies {
    api("org.jetbrains.kotlinx:kotlinx-coroutines-core:1.8.0")
    implementation("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.8.0")
    implementation("androidx.lifecycle:lifecycle-process:2.8.4")
}
